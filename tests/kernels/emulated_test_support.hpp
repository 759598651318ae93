// Helpers shared by the emulated CUDA kernel tests (*_emulated_test.cpp).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace cohort::test {

// A ranked output: rows x k indices and scores.
struct TopK {
  std::vector<int32_t> index;
  std::vector<float> score;
};

// Scores agree within tol at every rank; where the indices differ both must be real entries
// (a near-tie ordered the other way), not padding.
inline void expect_same_topk(const TopK& want, const TopK& got, int64_t rows, int k, double tol) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int e = 0; e < k; ++e) {
      const std::size_t p = static_cast<std::size_t>(r * k + e);
      ASSERT_NEAR(got.score[p], want.score[p], tol) << "row " << r << " rank " << e;
      if (got.index[p] != want.index[p]) {
        ASSERT_GE(want.index[p], 0) << "row " << r << " rank " << e;
        ASSERT_GE(got.index[p], 0) << "row " << r << " rank " << e;
      }
    }
  }
}

// want[i] and got[i] within atol + rtol |want[i]| everywhere; the first miss named.
inline ::testing::AssertionResult all_near(const std::vector<float>& want, const std::vector<float>& got,
                                           double atol, double rtol) {
  if (want.size() != got.size()) return ::testing::AssertionFailure() << "sizes differ";
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double err = std::fabs(static_cast<double>(want[i]) - got[i]);
    if (!(err <= atol + rtol * std::fabs(static_cast<double>(want[i])))) {
      return ::testing::AssertionFailure() << "entry " << i << ": want " << want[i] << " got " << got[i];
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace cohort::test
