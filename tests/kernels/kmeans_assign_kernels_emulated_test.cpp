// The fused k-means assignment (kernels/cuda/kmeans_assign_kernels.cuh) on the CPU emulation
// against the CPU backend's kmeans_assign: problems of k = 1 (second = best), small ones packed
// several to a chunk, k = 64 (exactly one chunk), 65 and 130 (pieces carried across chunks),
// rows not a multiple of the block's 128, d not a multiple of 4, duplicated centroids (a tie:
// the lower index wins, the distance is also the second), and the chunk plan itself.
#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cuda/kmeans_assign_kernels.cuh"
#include "tests/kernels/kmeans_assign_test_support.hpp"

namespace cohort::test {
namespace {

namespace emu = cohort::cuda_emulation;
using cuda::AssignPlan;

Assignment fused_assign(const Data& data, bool with_second) {
  const int problems = static_cast<int>(data.offsets.size()) - 1;
  const AssignPlan plan = cuda::plan_assign(data.offsets.data(), problems);
  Assignment out;
  out.labels.assign(static_cast<std::size_t>(data.n * problems), -7);
  out.best.assign(out.labels.size(), NAN);
  out.second.assign(out.labels.size(), NAN);
  const unsigned blocks = static_cast<unsigned>((data.n + cuda::kAssignRows - 1) / cuda::kAssignRows);
  emu::launch(dim3(blocks), dim3(cuda::kAssignThreads),
              static_cast<std::size_t>(cuda::fused_assign_shared_bytes(data.d)), cuda::fused_assign_kernel,
              data.x.data(), int64_t{data.d}, data.n, data.d, data.x_sq.data(), data.c.data(), int64_t{data.d},
              data.c_sq.data(), data.offsets.data(), plan.slot_centroid.data(), plan.segments.data(),
              plan.chunk_segments.data(), plan.chunks(), out.labels.data(), out.best.data(),
              with_second ? out.second.data() : nullptr);
  return out;
}

struct Case {
  std::string name;
  int64_t n;
  int d;
  std::vector<int64_t> ks;
};

// Names the case in test listings (instead of its bytes).
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class FusedAssignEmulated : public ::testing::TestWithParam<Case> {};

TEST_P(FusedAssignEmulated, MatchesTheCpuBackend) {
  const Case c = GetParam();
  std::mt19937_64 rng(17 + c.n + c.d);
  const Data data = make_data(rng, c.n, c.d, c.ks);
  const Assignment want = cpu_assign(data);
  for (bool with_second : {true, false}) {
    const Assignment got = fused_assign(data, with_second);
    expect_same_assignment(data, want, got, with_second);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, FusedAssignEmulated,
    ::testing::Values(Case{"sweep", 300, 13, {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}},
                      Case{"single_k1", 130, 8, {1}}, Case{"mixed", 257, 21, {1, 5, 64, 3, 65, 2, 130, 7}},
                      Case{"wide_d", 140, 70, {9, 64, 33}},
                      Case{"widest_fused_d", 140, 192, {5, 70}}),  // kFusedMaxDims: the most shared memory
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(FusedAssignEmulatedTies, DuplicatedCentroidsKeepTheLowerIndex) {
  std::mt19937_64 rng(3);
  const Data data = make_data(rng, 90, 6, {3, 4});
  const Assignment got = fused_assign(data, true);
  // Problem 1, centroids 0 and 1 are equal: centroid 1 never wins, and a row that picks 0
  // sees the same distance as its second.
  for (int64_t i = 0; i < data.n; ++i) {
    const std::size_t p = static_cast<std::size_t>(data.n + i);
    EXPECT_NE(got.labels[p], 1) << i;
    if (got.labels[p] == 0) {
      EXPECT_EQ(got.second[p], got.best[p]) << i;
    }
  }
  // k = 1 in the single-problem case: second = best.
  const Data one = make_data(rng, 40, 5, {1});
  const Assignment single = fused_assign(one, true);
  for (int64_t i = 0; i < one.n; ++i) {
    EXPECT_EQ(single.labels[i], 0);
    EXPECT_EQ(single.second[i], single.best[i]);
  }
}

// The path for d above kFusedMaxDims: cuBLAS's centroid-major dots, then the argmin kernel.
TEST(ArgminFromDotsEmulated, MatchesTheCpuBackend) {
  std::mt19937_64 rng(8);
  const Data data = make_data(rng, 150, 11, {1, 3, 17, 70});
  const int problems = 4;
  const int64_t total_k = data.offsets.back();
  std::vector<float> dots(static_cast<std::size_t>(total_k * data.n));
  for (int64_t c = 0; c < total_k; ++c)
    for (int64_t i = 0; i < data.n; ++i) {
      float s = 0.0f;
      for (int j = 0; j < data.d; ++j) s += data.c[c * data.d + j] * data.x[i * data.d + j];
      dots[c * data.n + i] = -2.0f * s;
    }
  Assignment got;
  got.labels.assign(static_cast<std::size_t>(data.n * problems), -7);
  got.best.assign(got.labels.size(), NAN);
  got.second.assign(got.labels.size(), NAN);
  emu::launch(dim3(2, 3), dim3(128), 0, cuda::argmin_from_dots_kernel<false>, dots.data(), data.n,
              data.x_sq.data(), data.c_sq.data(), data.offsets.data(), problems, data.n, int64_t{0},
              got.labels.data(), got.best.data(), got.second.data(), cuda::Tf32Check{});
  expect_same_assignment(data, cpu_assign(data), got, true);
}

TEST(FusedAssignPlan, PacksSmallProblemsAndGivesLargeOnesTheirOwnChunks) {
  const std::vector<int64_t> offsets{0, 2, 7, 77, 78, 148};  // k = 2, 5, 70, 1, 70
  const AssignPlan plan = cuda::plan_assign(offsets.data(), 5);
  // k 2 (4 slots) and 5 (8 slots) share chunk 0; 70 takes chunks 1-2; 1 opens chunk 3;
  // the second 70 takes chunks 4-5.
  ASSERT_EQ(plan.chunks(), 6);
  EXPECT_EQ(plan.chunk_segments, (std::vector<int32_t>{0, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(plan.segments[1].slot_begin, 4);
  EXPECT_EQ(plan.segments[1].slot_end, 12);
  EXPECT_TRUE(plan.segments[2].first && !plan.segments[2].last);
  EXPECT_TRUE(!plan.segments[3].first && plan.segments[3].last);
  EXPECT_EQ(plan.segments[3].slot_end, 8);  // the 6 centroids left, padded to 8
  EXPECT_EQ(plan.slot_centroid[0], 0);
  EXPECT_EQ(plan.slot_centroid[2], -1);  // padding after k = 2
  EXPECT_EQ(plan.slot_centroid[4], 2);
  EXPECT_EQ(plan.slot_centroid[2 * 64 + 5], 7 + 64 + 5);
  EXPECT_EQ(plan.slot_centroid[3 * 64], 77);
  for (const auto& s : plan.segments) {
    EXPECT_EQ(s.slot_begin % cuda::kSlotsPerThread, 0);
    EXPECT_LE(s.slot_end, cuda::kAssignSlots);
  }
}

}  // namespace
}  // namespace cohort::test
