// CPU batched k-means: assignment, accumulation, finalize, per-problem sums, k-means++.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "kernels/buffer.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/error.hpp"
#include "kernels/cpu_test_support.hpp"

namespace cohort {
namespace {

class CpuKMeans : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> backend_ = make_cpu_backend(2);
};

struct Assignment {
  std::vector<int32_t> labels;
  std::vector<float> best;
  std::vector<float> second;
};

Assignment assign(Backend& backend, const std::vector<float>& xh, int64_t n, int64_t d, const std::vector<float>& ch,
                  const std::vector<int64_t>& k_offsets) {
  const int problems = static_cast<int>(k_offsets.size()) - 1;
  Buffer<float> x(backend, xh), c(backend, ch), norms(backend, n);
  backend.row_sq_norms(x.matrix(n, d), norms.data());
  Buffer<int32_t> labels(backend, problems * n);
  Buffer<float> best(backend, problems * n), second(backend, problems * n);
  backend.kmeans_assign(x.matrix(n, d), norms.data(), c.matrix(k_offsets.back(), d), k_offsets.data(), problems,
                        labels.data(), best.data(), second.data());
  return {labels.to_host(), best.to_host(), second.to_host()};
}

// Points (0,0), (1,0), (10,1), (5,0); three problems:
//   P0 (k=2): (0,0), (10,0)   P1 (k=3): (10,0), (1,0), (0,0)   P2 (k=1): (2,0)
// (5,0) is equidistant from both centroids of P0: the lower index wins, second = best.
TEST_F(CpuKMeans, AssignKnownAnswer) {
  std::vector<float> x{0, 0, 1, 0, 10, 1, 5, 0};
  std::vector<float> c{0, 0, 10, 0, 10, 0, 1, 0, 0, 0, 2, 0};
  auto a = assign(*backend_, x, 4, 2, c, {0, 2, 5, 6});
  EXPECT_EQ(a.labels, (std::vector<int32_t>{0, 0, 1, 0, 2, 1, 0, 1, 0, 0, 0, 0}));
  EXPECT_EQ(a.best, (std::vector<float>{0, 1, 1, 25, 0, 0, 1, 16, 4, 1, 65, 9}));
  EXPECT_EQ(a.second, (std::vector<float>{100, 81, 101, 25, 1, 1, 82, 25, 4, 1, 65, 9}));
}

TEST_F(CpuKMeans, AssignWithoutSecondDistance) {
  std::vector<float> xh{0, 0, 3, 4};
  Buffer<float> x(*backend_, xh), norms(*backend_, 2);
  Buffer<float> c(*backend_, std::vector<float>{3, 4, 0, 0});
  backend_->row_sq_norms(x.matrix(2, 2), norms.data());
  Buffer<int32_t> labels(*backend_, 2);
  Buffer<float> best(*backend_, 2);
  std::vector<int64_t> offsets{0, 2};
  backend_->kmeans_assign(x.matrix(2, 2), norms.data(), c.matrix(2, 2), offsets.data(), 1, labels.data(),
                          best.data(), nullptr);
  EXPECT_EQ(labels.to_host(), (std::vector<int32_t>{1, 0}));
  EXPECT_EQ(best.to_host(), (std::vector<float>{0, 0}));
}

// More rows than one assignment block, several problems: against a direct computation.
TEST_F(CpuKMeans, AssignMatchesBruteForce) {
  const uint64_t seed = 5;
  SCOPED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const int64_t n = 5000, d = 6;
  const std::vector<int64_t> offsets{0, 3, 8, 9, 16};
  auto xh = test::random_normal(rng, n * d);
  auto ch = test::random_normal(rng, offsets.back() * d);
  auto a = assign(*backend_, xh, n, d, ch, offsets);
  for (int b = 0; b + 1 < static_cast<int>(offsets.size()); ++b) {
    for (int64_t i = 0; i < n; ++i) {
      std::vector<double> dist;
      for (int64_t c = offsets[b]; c < offsets[b + 1]; ++c) {
        double s = 0.0;
        for (int64_t j = 0; j < d; ++j) s += std::pow(xh[i * d + j] - ch[c * d + j], 2);
        dist.push_back(s);
      }
      std::vector<double> sorted = dist;
      std::sort(sorted.begin(), sorted.end());
      const int64_t e = b * n + i;
      ASSERT_NEAR(a.best[e], sorted[0], 1e-4) << "problem " << b << " row " << i;
      ASSERT_NEAR(a.second[e], sorted.size() > 1 ? sorted[1] : sorted[0], 1e-4) << "problem " << b << " row " << i;
      ASSERT_NEAR(dist[a.labels[e]], sorted[0], 1e-4) << "problem " << b << " row " << i;
    }
  }
}

TEST_F(CpuKMeans, AssignRejectsBadOffsets) {
  Buffer<float> x(*backend_, std::vector<float>{0, 0}), norms(*backend_, std::vector<float>{0});
  Buffer<float> c(*backend_, std::vector<float>{0, 0, 1, 1});
  Buffer<int32_t> labels(*backend_, 2);
  Buffer<float> best(*backend_, 2);
  std::vector<int64_t> empty_problem{0, 0, 2};
  std::vector<int64_t> short_end{0, 1};
  EXPECT_THROW(backend_->kmeans_assign(x.matrix(1, 2), norms.data(), c.matrix(2, 2), empty_problem.data(), 2,
                                       labels.data(), best.data(), nullptr),
               Error);
  EXPECT_THROW(backend_->kmeans_assign(x.matrix(1, 2), norms.data(), c.matrix(2, 2), short_end.data(), 1,
                                       labels.data(), best.data(), nullptr),
               Error);
}

// Accumulate then finalize is the mean of each cluster; more rows than one fixed chunk.
TEST_F(CpuKMeans, AccumulateAndFinalizeGiveTheMeans) {
  std::mt19937_64 rng(9);
  const int64_t n = 10000, d = 3;
  const std::vector<int64_t> offsets{0, 2, 6};
  auto xh = test::random_normal(rng, n * d);
  std::vector<int32_t> lh(2 * n);
  for (int64_t i = 0; i < n; ++i) {
    lh[i] = static_cast<int32_t>(i % 2);
    lh[n + i] = static_cast<int32_t>(i % 3);  // centroid 3 of problem 1 stays empty
  }
  Buffer<float> x(*backend_, xh);
  Buffer<int32_t> labels(*backend_, lh);
  Buffer<double> sums(*backend_, 6 * d), counts(*backend_, 6);
  sums.zero();
  counts.zero();
  backend_->kmeans_accumulate(x.matrix(n, d), labels.data(), offsets.data(), 2, sums.data(), counts.data());

  std::vector<double> want_sums(6 * d, 0.0), want_counts(6, 0.0);
  for (int b = 0; b < 2; ++b) {
    for (int64_t i = 0; i < n; ++i) {
      const int64_t c = offsets[b] + lh[b * n + i];
      for (int64_t j = 0; j < d; ++j) want_sums[c * d + j] += xh[i * d + j];
      want_counts[c] += 1.0;
    }
  }
  EXPECT_EQ(counts.to_host(), want_counts);
  auto got_sums = sums.to_host();
  for (std::size_t e = 0; e < want_sums.size(); ++e) EXPECT_NEAR(got_sums[e], want_sums[e], 1e-9) << e;

  std::vector<float> sentinel(6 * d, 42.0f);
  Buffer<float> centroids(*backend_, sentinel);
  backend_->kmeans_finalize(sums.data(), counts.data(), centroids.matrix(6, d));
  auto got = centroids.to_host();
  for (int64_t c = 0; c < 6; ++c) {
    for (int64_t j = 0; j < d; ++j) {
      const float want = want_counts[c] > 0 ? static_cast<float>(want_sums[c * d + j] / want_counts[c]) : 42.0f;
      EXPECT_NEAR(got[c * d + j], want, 1e-6f) << c << "," << j;
    }
  }
}

TEST_F(CpuKMeans, AccumulateAddsToWhatIsThere) {
  Buffer<float> x(*backend_, std::vector<float>{1, 2, 3, 4});
  Buffer<int32_t> labels(*backend_, std::vector<int32_t>{0, 0});
  Buffer<double> sums(*backend_, std::vector<double>{10, 20});
  Buffer<double> counts(*backend_, std::vector<double>{1});
  std::vector<int64_t> offsets{0, 1};
  backend_->kmeans_accumulate(x.matrix(2, 2), labels.data(), offsets.data(), 1, sums.data(), counts.data());
  EXPECT_EQ(sums.to_host(), (std::vector<double>{14, 26}));
  EXPECT_EQ(counts.to_host(), (std::vector<double>{3}));
}

TEST_F(CpuKMeans, AccumulateIsTheSameOnOneThreadAndTwo) {
  std::mt19937_64 rng(13);
  const int64_t n = 30000, d = 4;
  const std::vector<int64_t> offsets{0, 5};
  auto xh = test::random_normal(rng, n * d);
  std::vector<int32_t> lh(n);
  for (auto& l : lh) l = static_cast<int32_t>(rng() % 5);
  auto run = [&](Backend& backend) {
    Buffer<float> x(backend, xh);
    Buffer<int32_t> labels(backend, lh);
    Buffer<double> sums(backend, 5 * d), counts(backend, 5);
    sums.zero();
    counts.zero();
    backend.kmeans_accumulate(x.matrix(n, d), labels.data(), offsets.data(), 1, sums.data(), counts.data());
    return sums.to_host();
  };
  auto one = make_cpu_backend(1);
  EXPECT_EQ(run(*one), run(*backend_));
}

TEST_F(CpuKMeans, AccumulateRejectsLabelsOutOfRange) {
  Buffer<float> x(*backend_, std::vector<float>{1, 2});
  Buffer<int32_t> labels(*backend_, std::vector<int32_t>{2});
  Buffer<double> sums(*backend_, 4), counts(*backend_, 2);
  std::vector<int64_t> offsets{0, 2};
  EXPECT_THROW(backend_->kmeans_accumulate(x.matrix(1, 2), labels.data(), offsets.data(), 1, sums.data(),
                                           counts.data()),
               Error);
}

TEST_F(CpuKMeans, SumPerProblem) {
  Buffer<float> v(*backend_, std::vector<float>{1, 2, 3, 0.5f, 0.25f, 0.25f});
  std::vector<double> out(2, -1.0);
  backend_->sum_per_problem(v.data(), 3, 2, out.data());
  EXPECT_EQ(out, (std::vector<double>{6.0, 1.0}));
}

// Four blobs of 50 points with spread 0.1, 100 apart.
std::vector<float> blobs(std::mt19937_64& rng, int64_t per_blob, int64_t d) {
  std::normal_distribution<float> noise(0.0f, 0.1f);
  std::vector<float> x;
  for (int blob = 0; blob < 4; ++blob) {
    for (int64_t i = 0; i < per_blob; ++i) {
      for (int64_t j = 0; j < d; ++j) x.push_back((j == blob % d ? 100.0f * (1 + blob / d) : 0.0f) + noise(rng));
    }
  }
  return x;
}

std::vector<float> plus_plus(Backend& backend, const std::vector<float>& xh, int64_t n, int64_t d, int k,
                             uint64_t seed) {
  Buffer<float> x(backend, xh), norms(backend, n), c(backend, k * d);
  backend.row_sq_norms(x.matrix(n, d), norms.data());
  backend.kmeans_plus_plus(x.matrix(n, d), norms.data(), k, seed, c.matrix(k, d));
  return c.to_host();
}

TEST_F(CpuKMeans, PlusPlusPicksOneRowPerBlob) {
  std::mt19937_64 rng(3);
  const int64_t per_blob = 50, d = 3, n = 4 * per_blob;
  auto x = blobs(rng, per_blob, d);
  for (uint64_t seed : {1u, 2u, 3u, 4u, 5u}) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    auto c = plus_plus(*backend_, x, n, d, 4, seed);
    std::set<int64_t> blobs_hit;
    for (int r = 0; r < 4; ++r) {
      int64_t row = -1;
      for (int64_t i = 0; i < n && row < 0; ++i) {
        if (std::equal(c.begin() + r * d, c.begin() + (r + 1) * d, x.begin() + i * d)) row = i;
      }
      ASSERT_GE(row, 0) << "centroid " << r << " is not a row of x";
      blobs_hit.insert(row / per_blob);
    }
    EXPECT_EQ(blobs_hit.size(), 4u);
  }
}

TEST_F(CpuKMeans, PlusPlusIsDeterministicForASeed) {
  std::mt19937_64 rng(4);
  const int64_t n = 3000, d = 5;
  auto x = test::random_normal(rng, n * d);
  auto first = plus_plus(*backend_, x, n, d, 12, 77);
  EXPECT_EQ(first, plus_plus(*backend_, x, n, d, 12, 77));
  auto one = make_cpu_backend(1);
  EXPECT_EQ(first, plus_plus(*one, x, n, d, 12, 77));
  EXPECT_NE(first, plus_plus(*backend_, x, n, d, 12, 78));
}

TEST_F(CpuKMeans, PlusPlusSurvivesDuplicateRows) {
  // All rows equal: every D^2 weight is zero after the first pick.
  std::vector<float> x(20 * 2, 1.5f);
  auto c = plus_plus(*backend_, x, 20, 2, 3, 1);
  EXPECT_EQ(c, std::vector<float>(3 * 2, 1.5f));
  // Two distinct rows, k = 3: both are picked, the third is a duplicate.
  std::vector<float> two{0, 0, 0, 0, 5, 5, 5, 5};
  auto c2 = plus_plus(*backend_, two, 4, 2, 3, 1);
  std::set<std::pair<float, float>> distinct;
  for (int r = 0; r < 3; ++r) distinct.insert({c2[r * 2], c2[r * 2 + 1]});
  EXPECT_EQ(distinct.size(), 2u);
}

TEST_F(CpuKMeans, PlusPlusRejectsKAboveRows) {
  Buffer<float> x(*backend_, std::vector<float>{1, 2}), norms(*backend_, std::vector<float>{5});
  Buffer<float> c(*backend_, 4);
  EXPECT_THROW(backend_->kmeans_plus_plus(x.matrix(1, 2), norms.data(), 2, 1, c.matrix(2, 2)), Error);
  EXPECT_THROW(backend_->kmeans_plus_plus(x.matrix(1, 2), norms.data(), 0, 1, c.matrix(0, 2)), Error);
}

}  // namespace
}  // namespace cohort
