// Helpers shared by the emulated CUDA kernel tests (*_emulated_test.cpp).
#pragma once

#include <gtest/gtest.h>

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

}  // namespace cohort::test
