// The fused split-TF32 k-means assignment (kernels/cuda/kmeans_split_tf32_kernels.cuh) on the CPU
// emulation, whose tensor-core MMA exchanges the fragments between the lanes, against the CPU
// backend: the labels are FP32's up to near-ties; every pair the kernel leaves unlisted already
// has the CPU's label (the error bound holds); rows far from 0 make it list pairs, and the FP32
// pass over them fixes the labels. Shapes: problems of k = 1, many small ones packed to a chunk,
// 64, 65 and 130 (across chunks), d not a multiple of 8, the largest d, rows not a multiple of
// the block's 128, duplicated centroids (the lower index wins).
#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda/kmeans_split_tf32_kernels.cuh"
#include "tests/kernels/kmeans_assign_test_support.hpp"

namespace cohort::test {
namespace {

namespace emu = cohort::cuda_emulation;

struct SplitRun {
  Assignment before_recheck;  // the kernel's own labels and distances
  Assignment out;             // after the FP32 pass over the listed pairs
  std::vector<int64_t> listed;
  int overflow = 0;
};

// presplit: the centroid chunks staged as TF32 parts, or in FP32 and split as loaded.
SplitRun split_assign(const Data& data, bool with_second, int64_t capacity, bool presplit = true) {
  const int problems = static_cast<int>(data.offsets.size()) - 1;
  const int64_t total_k = data.offsets.back();
  const cuda::AssignPlan plan = cuda::plan_assign(data.offsets.data(), problems, cuda::kSplitUnitSlots);
  std::vector<float> c_norm(static_cast<std::size_t>(total_k)), c_norm_max(static_cast<std::size_t>(problems));
  for (int64_t c = 0; c < total_k; ++c) c_norm[c] = std::sqrt(data.c_sq[c]);
  emu::launch(dim3(1), dim3(32), 0, cuda::problem_max_kernel, c_norm.data(), data.offsets.data(), problems,
              c_norm_max.data());
  std::vector<int64_t> pairs(static_cast<std::size_t>(capacity));
  int counters[2] = {0, 0};
  const cuda::Tf32Check check{c_norm.data(), cuda::split_tf32_distance_error(data.d), pairs.data(), &counters[0],
                              capacity, &counters[1]};
  SplitRun run;
  Assignment& out = run.out;
  out.labels.assign(static_cast<std::size_t>(data.n * problems), -7);
  out.best.assign(out.labels.size(), NAN);
  out.second.assign(out.labels.size(), NAN);
  const unsigned blocks = static_cast<unsigned>((data.n + cuda::kSplitRows - 1) / cuda::kSplitRows);
  emu::launch(dim3(blocks), dim3(cuda::kSplitThreads),
              static_cast<std::size_t>(cuda::split_assign_shared_bytes(data.d, presplit)),
              presplit ? cuda::split_tf32_assign_kernel<true> : cuda::split_tf32_assign_kernel<false>,
              data.x.data(), int64_t{data.d}, data.n, data.d, data.x_sq.data(), data.c.data(), int64_t{data.d},
              data.c_sq.data(), c_norm_max.data(), data.offsets.data(), plan.slot_centroid.data(),
              plan.segments.data(), plan.chunk_segments.data(), plan.chunks(), out.labels.data(), out.best.data(),
              with_second ? out.second.data() : nullptr, check);
  run.before_recheck = out;
  run.listed.assign(pairs.begin(), pairs.begin() + std::min<int64_t>(counters[0], capacity));
  run.overflow = counters[1];
  emu::launch(dim3(3), dim3(64), 0, cuda::fp32_assign_pairs_kernel, data.x.data(), int64_t{data.d}, data.d,
              data.x_sq.data(), data.c.data(), int64_t{data.d}, data.c_sq.data(), data.offsets.data(), data.n, check,
              out.labels.data(), out.best.data(), with_second ? out.second.data() : nullptr);
  return run;
}

// Every pair the kernel did not list has the CPU's label already, unless the CPU's nearest two
// are a near-tie in FP32 itself.
void expect_unlisted_pairs_decided(const Data& data, const Assignment& want, const SplitRun& run) {
  std::vector<char> listed(want.labels.size(), 0);
  for (int64_t p : run.listed) listed[static_cast<std::size_t>(p)] = 1;
  for (std::size_t p = 0; p < want.labels.size(); ++p) {
    if (listed[p] || run.before_recheck.labels[p] == want.labels[p]) continue;
    const int64_t row = static_cast<int64_t>(p) % data.n;
    EXPECT_NEAR(want.second[p], want.best[p], 1e-4 * (1.0 + data.x_sq[row]))
        << "pair " << p << " (problem " << static_cast<int64_t>(p) / data.n << ", row " << row
        << ") was not listed but has label " << run.before_recheck.labels[p] << ", the CPU's " << want.labels[p];
  }
}

struct Case {
  std::string name;
  int64_t n;
  int d;
  std::vector<int64_t> ks;
  float offset;
};

// Names the case in test listings (instead of its bytes).
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class SplitTf32AssignEmulated : public ::testing::TestWithParam<Case> {};

TEST_P(SplitTf32AssignEmulated, MatchesTheCpuBackend) {
  const Case c = GetParam();
  std::mt19937_64 rng(29 + c.n + c.d);
  const Data data = make_data(rng, c.n, c.d, c.ks, c.offset);
  const Assignment want = cpu_assign(data);
  const int64_t pairs = data.n * static_cast<int64_t>(c.ks.size());
  // Chunks presplit (where sm_80's shared memory holds them) and in FP32; without the second
  // distance once.
  struct Variant {
    bool presplit;
    bool with_second;
  };
  std::vector<Variant> variants{{false, true}, {false, false}};
  if (cuda::split_assign_shared_bytes(c.d, true) <= static_cast<int64_t>(emu::kMaxDynamicSharedBytes))
    variants.push_back({true, true});
  for (const auto [presplit, with_second] : variants) {
    SCOPED_TRACE(std::string(presplit ? "chunks presplit" : "chunks in FP32") +
                 (with_second ? ", with second" : ", no second"));
    const SplitRun run = split_assign(data, with_second, pairs, presplit);
    EXPECT_EQ(run.overflow, 0);
    expect_unlisted_pairs_decided(data, want, run);
    expect_same_assignment(data, want, run.out, with_second, static_cast<int>(pairs / 50));
    if (c.offset != 0.0f) {
      EXPECT_GT(run.listed.size(), 0u) << "rows far from 0 should leave pairs to the FP32 pass";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, SplitTf32AssignEmulated,
    ::testing::Values(Case{"sweep", 300, 13, {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, 0.0f},
                      Case{"single_k1", 130, 8, {1}, 0.0f},
                      Case{"mixed", 257, 21, {1, 5, 64, 3, 65, 2, 130, 7}, 0.0f},
                      Case{"far_from_zero", 200, 24, {2, 9, 33, 64}, 3.0f},
                      Case{"d_128", 140, 128, {5, 70}, 0.0f},
                      Case{"widest_d", 130, 192, {3, 66}, 0.0f}),  // kSplitMaxDims: the most shared memory
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(SplitTf32AssignEmulatedTies, DuplicatedCentroidsKeepTheLowerIndex) {
  std::mt19937_64 rng(4);
  const Data data = make_data(rng, 90, 6, {3, 4});
  const SplitRun run = split_assign(data, true, 180);
  for (int64_t i = 0; i < data.n; ++i) {
    const std::size_t p = static_cast<std::size_t>(data.n + i);
    EXPECT_NE(run.out.labels[p], 1) << i;
    if (run.out.labels[p] == 0) {
      EXPECT_EQ(run.out.second[p], run.out.best[p]) << i;
    }
  }
}

// More undecided pairs than the list holds: the overflow flag is set (kmeans.cu then redoes the
// call in FP32), and the pairs kept are still fixed.
TEST(SplitTf32AssignEmulatedOverflow, AFullListRaisesTheFlag) {
  std::mt19937_64 rng(6);
  const Data data = make_data(rng, 150, 16, {2, 40}, 3.0f);
  const SplitRun run = split_assign(data, true, 1);
  EXPECT_EQ(run.listed.size(), 1u);
  EXPECT_EQ(run.overflow, 1);
}

TEST(SplitTf32AssignPlan, PadsEveryProblemToWholeTiles) {
  const std::vector<int64_t> offsets{0, 2, 7, 77, 78};  // k = 2, 5, 70, 1
  const cuda::AssignPlan plan = cuda::plan_assign(offsets.data(), 4, cuda::kSplitUnitSlots);
  // k 2 and 5 take 8 slots each in chunk 0; 70 takes chunks 1-2 (64 + 8); 1 opens chunk 3.
  ASSERT_EQ(plan.chunks(), 4);
  EXPECT_EQ(plan.segments[1].slot_begin, 8);
  EXPECT_EQ(plan.segments[1].slot_end, 16);
  EXPECT_EQ(plan.segments[3].slot_end, 8);
  EXPECT_EQ(plan.slot_centroid[2], -1);
  EXPECT_EQ(plan.slot_centroid[8], 2);
  for (const auto& s : plan.segments) {
    EXPECT_EQ(s.slot_begin % cuda::kSplitUnitSlots, 0);
    EXPECT_EQ(s.slot_end % cuda::kSplitUnitSlots, 0);
  }
}

}  // namespace
}  // namespace cohort::test
