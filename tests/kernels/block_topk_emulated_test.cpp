// block_topk (kernels/cuda/device_functions.cuh), the selection behind every ranked GPU output,
// on the CPU emulation against a full sort: rounds that overflow the buffer (ascending scores:
// every candidate beats the bar), ties broken by index, NaN scores and rejected candidates
// skipped, k from 1 to kMaxTopK, fewer candidates than k.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda/device_functions.cuh"
#include "tests/kernels/cpu_test_support.hpp"

namespace cohort::test {
namespace {

namespace emu = cohort::cuda_emulation;

// Row r selects the top k of scores[r * count ...] whose keep flag is set; the index reported
// is the candidate's position times 3 (so that index and position differ).
__global__ void topk_rows_kernel(const float* scores, const char* keep, int64_t count, int k, int32_t* out_index,
                                 float* out_score) {
  __shared__ cuda::TopkShared top;
  const int64_t r = blockIdx.x;
  cuda::block_topk(
      top, count, k,
      [&](int64_t c, float* score, int32_t* index) {
        *score = scores[r * count + c];
        *index = static_cast<int32_t>(3 * c);
        return keep[r * count + c] != 0;
      },
      out_index + r * k, out_score + r * k);
}

void check(const std::vector<float>& scores, const std::vector<char>& keep, int64_t rows, int64_t count, int k) {
  std::vector<int32_t> index(static_cast<std::size_t>(rows * k), -9);
  std::vector<float> score(index.size(), -9.0f);
  emu::launch(dim3(static_cast<unsigned>(rows)), dim3(cuda::kTopkThreads), 0, topk_rows_kernel, scores.data(),
              keep.data(), count, k, index.data(), score.data());
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<std::pair<float, int32_t>> cand;
    for (int64_t c = 0; c < count; ++c) {
      const float s = scores[static_cast<std::size_t>(r * count + c)];
      if (keep[static_cast<std::size_t>(r * count + c)] && !std::isnan(s))
        cand.emplace_back(s, static_cast<int32_t>(3 * c));
    }
    std::vector<int32_t> want_index(static_cast<std::size_t>(k));
    std::vector<float> want_score(static_cast<std::size_t>(k));
    brute_topk(cand, k, want_index.data(), want_score.data());
    for (int e = 0; e < k; ++e) {
      ASSERT_EQ(index[static_cast<std::size_t>(r * k + e)], want_index[static_cast<std::size_t>(e)])
          << "row " << r << " rank " << e;
      ASSERT_EQ(score[static_cast<std::size_t>(r * k + e)], want_score[static_cast<std::size_t>(e)])
          << "row " << r << " rank " << e;
    }
  }
}

TEST(BlockTopkEmulated, AscendingScoresOverflowTheBufferEveryRound) {
  const int64_t count = 5000;
  std::vector<float> scores(static_cast<std::size_t>(count));
  for (int64_t c = 0; c < count; ++c) scores[static_cast<std::size_t>(c)] = static_cast<float>(c);
  const std::vector<char> keep(scores.size(), 1);
  for (int k : {1, 100, cuda::kMaxTopK}) {
    SCOPED_TRACE("k " + std::to_string(k));
    check(scores, keep, 1, count, k);
  }
}

TEST(BlockTopkEmulated, RandomScoresWithTiesNansAndRejections) {
  std::mt19937_64 rng(3);
  const int64_t rows = 3, count = 3100;
  std::uniform_int_distribution<int> level(0, 40);  // many equal scores
  std::bernoulli_distribution rare(0.02);
  std::vector<float> scores(static_cast<std::size_t>(rows * count));
  std::vector<char> keep(scores.size());
  for (std::size_t p = 0; p < scores.size(); ++p) {
    scores[p] = rare(rng) ? NAN : static_cast<float>(level(rng)) / 8.0f;
    keep[p] = rare(rng) ? 0 : 1;
  }
  for (int k : {7, 500}) {
    SCOPED_TRACE("k " + std::to_string(k));
    check(scores, keep, rows, count, k);
  }
}

TEST(BlockTopkEmulated, FewerCandidatesThanKArePadded) {
  const std::vector<float> scores{0.5f, 2.0f, -1.0f};
  const std::vector<char> keep{1, 1, 1};
  check(scores, keep, 1, 3, 10);
  check(std::vector<float>{}, std::vector<char>{}, 1, 0, 4);
}

}  // namespace
}  // namespace cohort::test
