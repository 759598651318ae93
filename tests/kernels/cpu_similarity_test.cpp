// CPU top-k cosine neighbours of sparse rows.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/buffer.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/error.hpp"
#include "kernels/cpu_test_support.hpp"

namespace cohort {
namespace {

struct TopKResult {
  std::vector<int32_t> index;
  std::vector<float> score;
};

class CpuSimilarity : public ::testing::Test {
 protected:
  TopKResult run(const test::HostCsr& a, int64_t begin, int64_t end, int k, bool exclude_self) {
    test::BackendCsr da(*backend_, a);
    test::HostCsr at = a.transpose();
    test::BackendCsr dt(*backend_, at);
    Buffer<int32_t> index(*backend_, (end - begin) * k);
    Buffer<float> score(*backend_, (end - begin) * k);
    backend_->topk_cosine(da.view, dt.view, begin, end, k, exclude_self, index.data(), score.data());
    return {index.to_host(), score.to_host()};
  }
  std::unique_ptr<Backend> backend_ = make_cpu_backend(2);
};

// rows: {0,1}, {0,1,2}, {2}, {} with unit values.
//   cos(0,1) = 2 / (sqrt 2 sqrt 3) = 0.8165, cos(1,2) = 1 / sqrt 3 = 0.5774, cos(0,2) = 0.
test::HostCsr small_matrix() {
  test::HostCsr a;
  a.cols = 3;
  a.add_row({0, 1});
  a.add_row({0, 1, 2});
  a.add_row({2});
  a.add_row({});
  return a;
}

TEST_F(CpuSimilarity, KnownAnswerExcludingSelf) {
  auto r = run(small_matrix(), 0, 4, 3, true);
  const float c01 = static_cast<float>(2.0 / std::sqrt(6.0));
  const float c12 = static_cast<float>(1.0 / std::sqrt(3.0));
  EXPECT_EQ(r.index, (std::vector<int32_t>{1, -1, -1, 0, 2, -1, 1, -1, -1, -1, -1, -1}));
  std::vector<float> want{c01, 0, 0, c01, c12, 0, c12, 0, 0, 0, 0, 0};
  for (std::size_t e = 0; e < want.size(); ++e) EXPECT_NEAR(r.score[e], want[e], 1e-6f) << e;
}

TEST_F(CpuSimilarity, SelfIsItsOwnBestNeighbourWhenKept) {
  auto r = run(small_matrix(), 0, 4, 2, false);
  EXPECT_EQ(r.index, (std::vector<int32_t>{0, 1, 1, 0, 2, 1, -1, -1}));
  EXPECT_NEAR(r.score[0], 1.0f, 1e-6f);
  EXPECT_NEAR(r.score[4], 1.0f, 1e-6f);
  EXPECT_EQ(r.score[6], 0.0f);
}

TEST_F(CpuSimilarity, RowRangeWritesOnlyThoseRows) {
  auto r = run(small_matrix(), 1, 3, 1, true);
  EXPECT_EQ(r.index, (std::vector<int32_t>{0, 1}));
}

TEST_F(CpuSimilarity, TiesGoToTheLowerIndex) {
  test::HostCsr a;
  a.cols = 2;
  a.add_row({1});
  a.add_row({0});
  a.add_row({0});
  a.add_row({0});
  auto r = run(a, 1, 4, 3, true);
  EXPECT_EQ(r.index, (std::vector<int32_t>{2, 3, -1, 1, 3, -1, 1, 2, -1}));
}

TEST_F(CpuSimilarity, WeightedValuesAndNegativeScores) {
  // r0 = (1, 2), r1 = (2, 1): cos = 4 / 5. r2 = (-1, 0): cos(r0, r2) < 0 is dropped.
  test::HostCsr a;
  a.cols = 2;
  a.add_row({0, 1}, {1, 2});
  a.add_row({0, 1}, {2, 1});
  a.add_row({0}, {-1});
  auto r = run(a, 0, 3, 2, true);
  EXPECT_EQ(r.index, (std::vector<int32_t>{1, -1, 0, -1, -1, -1}));
  EXPECT_NEAR(r.score[0], 0.8f, 1e-6f);
  EXPECT_NEAR(r.score[2], 0.8f, 1e-6f);
}

TEST_F(CpuSimilarity, KZeroAndEmptyRangeWriteNothing) {
  auto a = small_matrix();
  test::BackendCsr da(*backend_, a);
  test::BackendCsr dt(*backend_, a.transpose());
  EXPECT_NO_THROW(backend_->topk_cosine(da.view, dt.view, 0, 4, 0, true, nullptr, nullptr));
  EXPECT_NO_THROW(backend_->topk_cosine(da.view, dt.view, 2, 2, 3, true, nullptr, nullptr));
}

TEST_F(CpuSimilarity, RejectsBadArguments) {
  auto a = small_matrix();
  test::BackendCsr da(*backend_, a);
  test::BackendCsr dt(*backend_, a.transpose());
  Buffer<int32_t> index(*backend_, 20);
  Buffer<float> score(*backend_, 20);
  EXPECT_THROW(backend_->topk_cosine(da.view, dt.view, 0, 5, 2, true, index.data(), score.data()), Error);
  EXPECT_THROW(backend_->topk_cosine(da.view, dt.view, 3, 2, 2, true, index.data(), score.data()), Error);
  EXPECT_THROW(backend_->topk_cosine(da.view, dt.view, 0, 4, -1, true, index.data(), score.data()), Error);
  EXPECT_THROW(backend_->topk_cosine(da.view, da.view, 0, 4, 2, true, index.data(), score.data()), Error);
}

// Brute force: dense cosine of every pair in double, a full sort per row.
TEST_F(CpuSimilarity, MatchesBruteForceOnRandomInput) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    const int64_t rows = 150, cols = 60;
    const bool weighted = seed != 2;
    auto a = test::random_csr(rng, rows, cols, 0.08, weighted ? std::vector<float>{0.5f, 1.0f, 2.0f, 3.0f}
                                                            : std::vector<float>{});
    const int k = 7;
    const bool exclude_self = seed != 3;
    auto r = run(a, 10, rows, k, exclude_self);
    auto dense = a.dense();
    for (int64_t i = 10; i < rows; ++i) {
      std::vector<std::pair<float, int32_t>> cand;
      double ni = 0.0;
      for (int64_t c = 0; c < cols; ++c) ni += dense[i * cols + c] * dense[i * cols + c];
      for (int64_t j = 0; j < rows; ++j) {
        if (exclude_self && j == i) continue;
        double dot = 0.0, nj = 0.0;
        for (int64_t c = 0; c < cols; ++c) {
          dot += dense[i * cols + c] * dense[j * cols + c];
          nj += dense[j * cols + c] * dense[j * cols + c];
        }
        if (dot <= 0.0) continue;
        cand.emplace_back(static_cast<float>(dot / std::sqrt(ni * nj)), static_cast<int32_t>(j));
      }
      std::vector<int32_t> want_index(k);
      std::vector<float> want_score(k);
      test::brute_topk(cand, k, want_index.data(), want_score.data());
      const int64_t r_row = (i - 10) * k;
      for (int s = 0; s < k; ++s) {
        EXPECT_NEAR(r.score[r_row + s], want_score[s], 1e-5f) << "row " << i << " slot " << s;
        // Indices agree unless the brute-force scores around the slot are a near-tie.
        if (r.index[r_row + s] != want_index[s]) {
          bool near_tie = false;
          for (const auto& [sc, j] : cand) {
            if (j == r.index[r_row + s]) near_tie = std::fabs(sc - want_score[s]) < 1e-5f;
          }
          EXPECT_TRUE(near_tie) << "row " << i << " slot " << s << ": got " << r.index[r_row + s] << ", want "
                                << want_index[s];
        }
      }
    }
  }
}

}  // namespace
}  // namespace cohort
