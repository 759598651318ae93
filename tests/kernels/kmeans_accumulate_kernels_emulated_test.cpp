// The grouped k-means accumulation (kernels/cuda/kmeans_accumulate_kernels.cuh) on the CPU
// emulation against the CPU backend's kmeans_accumulate: many problems in several groups,
// ranges of rows not a multiple of the tile, d above the block (threads loop over
// dimensions), sums that already hold values (accumulate adds), a bad label, and the plan.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cuda/kmeans_accumulate_kernels.cuh"
#include "tests/kernels/cpu_test_support.hpp"

namespace cohort::test {
namespace {

namespace emu = cohort::cuda_emulation;

struct Sums {
  std::vector<double> sums, counts;
};

struct Batch {
  int64_t n = 0, d = 0;
  std::vector<float> x;
  std::vector<int64_t> offsets{0};
  std::vector<int32_t> labels;  // problems x n
  std::vector<double> sums0, counts0;
};

Batch make_batch(std::mt19937_64& rng, int64_t n, int64_t d, const std::vector<int64_t>& ks) {
  Batch b;
  b.n = n;
  b.d = d;
  for (int64_t k : ks) b.offsets.push_back(b.offsets.back() + k);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  b.x.resize(static_cast<std::size_t>(n * d));
  for (float& v : b.x) v = value(rng);
  for (int64_t k : ks) {
    std::uniform_int_distribution<int32_t> label(0, static_cast<int32_t>(k - 1));
    for (int64_t i = 0; i < n; ++i) b.labels.push_back(label(rng));
  }
  const int64_t total_k = b.offsets.back();
  b.sums0.assign(static_cast<std::size_t>(total_k * d), 0.5);
  b.counts0.assign(static_cast<std::size_t>(total_k), 2.0);
  return b;
}

Sums cpu_accumulate(const Batch& b) {
  auto cpu = make_cpu_backend(1);
  const int problems = static_cast<int>(b.offsets.size()) - 1;
  Buffer<float> x(*cpu, b.x);
  Buffer<int32_t> labels(*cpu, b.labels);
  Buffer<double> sums(*cpu, b.sums0), counts(*cpu, b.counts0);
  cpu->kmeans_accumulate(x.matrix(b.n, b.d), labels.data(), b.offsets.data(), problems, sums.data(), counts.data());
  return {sums.to_host(), counts.to_host()};
}

Sums grouped_accumulate(const Batch& b, int64_t range_rows, int* flag) {
  const int problems = static_cast<int>(b.offsets.size()) - 1;
  const cuda::AccumulatePlan plan = cuda::plan_accumulate(b.offsets.data(), problems, b.d);
  EXPECT_GT(plan.groups(), 0);
  const int64_t total_k = b.offsets.back();
  const int64_t ranges = (b.n + range_rows - 1) / range_rows;
  std::vector<double> partial_sums(static_cast<std::size_t>(ranges * total_k * b.d), -1.0);
  std::vector<double> partial_counts(static_cast<std::size_t>(ranges * total_k), -1.0);
  emu::launch(dim3(static_cast<unsigned>(ranges), static_cast<unsigned>(plan.groups())), dim3(cuda::kGroupThreads),
              static_cast<std::size_t>(cuda::group_sums_shared_bytes(b.d)), cuda::group_partial_sums_kernel,
              b.x.data(), b.d, b.n, b.d, b.labels.data(), b.offsets.data(), plan.problem_begin.data(), range_rows,
              total_k, partial_sums.data(), partial_counts.data(), flag);
  Sums out{b.sums0, b.counts0};
  emu::launch(dim3(3), dim3(64), 0, cuda::add_ranges_kernel, partial_sums.data(), partial_counts.data(), ranges,
              total_k, b.d, out.sums.data(), out.counts.data());
  return out;
}

struct Case {
  std::string name;
  int64_t n, d;
  std::vector<int64_t> ks;
  int64_t range_rows;
};

class GroupedAccumulateEmulated : public ::testing::TestWithParam<Case> {};

TEST_P(GroupedAccumulateEmulated, MatchesTheCpuBackend) {
  const Case c = GetParam();
  std::mt19937_64 rng(41 + c.n);
  const Batch b = make_batch(rng, c.n, c.d, c.ks);
  const Sums want = cpu_accumulate(b);
  int flag = 0;
  const Sums got = grouped_accumulate(b, c.range_rows, &flag);
  EXPECT_EQ(flag, 0);
  ASSERT_EQ(got.sums.size(), want.sums.size());
  for (std::size_t e = 0; e < want.sums.size(); ++e) ASSERT_NEAR(got.sums[e], want.sums[e], 1e-9) << e;
  EXPECT_EQ(got.counts, want.counts);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, GroupedAccumulateEmulated,
    ::testing::Values(
        // The sweep's shape, small: 31 problems over several groups (d 64: 128 centroids each).
        Case{"sweep", 200, 64, {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
                                25, 26, 27, 28, 29, 30, 31, 32},
             48},
        Case{"one_range", 75, 13, {1, 4, 9}, 96}, Case{"wide_d", 70, 300, {2, 3}, 32}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(GroupedAccumulateEmulatedErrors, ABadLabelRaisesTheFlag) {
  std::mt19937_64 rng(2);
  Batch b = make_batch(rng, 50, 8, {3, 4});
  b.labels[50 + 7] = 4;  // problem 1 has k = 4
  int flag = 0;
  grouped_accumulate(b, 32, &flag);
  EXPECT_EQ(flag, cuda::kGroupBadLabel);
}

TEST(GroupedAccumulatePlan, GroupsFillTheSharedSumsAndRefuseATooLargeProblem) {
  // d = 64: 128 centroids of doubles per group.
  const std::vector<int64_t> offsets{0, 60, 120, 128, 248};  // k = 60, 60, 8 (exactly full), 120
  const cuda::AccumulatePlan plan = cuda::plan_accumulate(offsets.data(), 4, 64);
  EXPECT_EQ(plan.problem_begin, (std::vector<int32_t>{0, 3, 4}));
  const std::vector<int64_t> big{0, 129};
  EXPECT_EQ(cuda::plan_accumulate(big.data(), 1, 64).groups(), 0);
}

}  // namespace
}  // namespace cohort::test
