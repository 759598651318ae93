// The scoring kernels (kernels/cuda/scoring_kernels.cuh) on the CPU emulation against the CPU
// backend: score_topk's masking and per-row selection (dot and group terms with per-user
// weights, excluded items, k above the candidates left) and knn_score_topk with the dense row
// in shared memory and in a global slice with a touched list; bad groups and indices.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cuda/scoring_kernels.cuh"
#include "tests/kernels/cpu_test_support.hpp"
#include "tests/kernels/emulated_test_support.hpp"

namespace cohort::test {
namespace {

namespace emu = cohort::cuda_emulation;

// Values in [0.5, 4] (as levels), or none.
HostCsr random_rows(std::mt19937_64& rng, int64_t rows, int64_t cols, double density, bool values) {
  HostCsr m =
      random_csr(rng, rows, cols, density,
                 values ? std::vector<float>{0.5f, 1.0f, 1.5f, 2.0f, 2.5f, 3.0f, 3.5f, 4.0f} : std::vector<float>{});
  m.cols = cols;
  return m;
}

TEST(ScoringKernelsEmulated, ScoreRowsMatchTheCpuBackend) {
  std::mt19937_64 rng(12);
  const int64_t rows = 9, items = 300, f = 6, groups = 3;
  const std::vector<float> u = random_uniform(rng, rows * f, -1, 1), v = random_uniform(rng, items * f, -1, 1);
  const std::vector<float> dw = random_uniform(rng, rows, 0.2f, 1.0f), gw = random_uniform(rng, rows, 0.0f, 2.0f);
  const std::vector<float> group_scores = random_uniform(rng, groups * items, 0, 1);
  const std::vector<int32_t> user_group{0, 2, 1, 1, 0, 2, 2, 0, 1};
  HostCsr exclude = random_rows(rng, rows, items, 0.3, false);
  for (int k : {5, 280}) {  // 280: more than the items left after exclusion on most rows
    SCOPED_TRACE("k " + std::to_string(k));
    auto cpu = make_cpu_backend(1);
    Buffer<float> du(*cpu, u), dv(*cpu, v), ddw(*cpu, dw), dgw(*cpu, gw), dg(*cpu, group_scores);
    Buffer<int32_t> dug(*cpu, user_group);
    BackendCsr dex(*cpu, exclude);
    ScoreTerms terms;
    terms.user_factors = du.matrix(rows, f);
    terms.item_factors = dv.matrix(items, f);
    terms.dot_weight = ddw.data();
    terms.group_scores = dg.matrix(groups, items);
    terms.user_group = dug.data();
    terms.group_weight = dgw.data();
    Buffer<int32_t> index(*cpu, rows * k);
    Buffer<float> score(*cpu, rows * k);
    cpu->score_topk(terms, rows, items, dex.view, k, index.data(), score.data());
    const TopK want{index.to_host(), score.to_host()};

    // The launcher's steps: the dot tile, the mask, then the rows.
    std::vector<float> tile(static_cast<std::size_t>(rows * items));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < items; ++i) {
        float s = 0.0f;
        for (int64_t q = 0; q < f; ++q) s += u[r * f + q] * v[i * f + q];
        tile[r * items + i] = s;
      }
    emu::launch(dim3(4), dim3(128), 0, cuda::mask_excluded_kernel, exclude.host_view(), int64_t{0}, rows, items,
                tile.data());
    const cuda::ScoreArgs args{tile.data(), true, dw.data(), group_scores.data(), groups, items, user_group.data(),
                               gw.data(), items, k};
    TopK got{std::vector<int32_t>(static_cast<std::size_t>(rows * k), -9),
             std::vector<float>(static_cast<std::size_t>(rows * k), NAN)};
    int flag = 0;
    emu::launch(dim3(3), dim3(cuda::kTopkThreads), 0, cuda::score_rows_kernel, args, int64_t{0}, rows,
                got.index.data(), got.score.data(), &flag);
    EXPECT_EQ(flag, 0);
    expect_same_topk(want, got, rows, k, 1e-4);
  }
}

TEST(ScoringKernelsEmulated, ABadGroupRaisesTheFlag) {
  std::vector<float> tile(2 * 10, 0.5f), group_scores(2 * 10, 1.0f);
  const std::vector<int32_t> user_group{1, 2};  // 2 == groups
  const cuda::ScoreArgs args{tile.data(), true, nullptr, group_scores.data(), 2, 10, user_group.data(), nullptr,
                             10, 3};
  std::vector<int32_t> index(6);
  std::vector<float> score(6);
  int flag = 0;
  emu::launch(dim3(1), dim3(cuda::kTopkThreads), 0, cuda::score_rows_kernel, args, int64_t{0}, int64_t{2},
              index.data(), score.data(), &flag);
  EXPECT_EQ(flag, cuda::kScoreBadGroup);
}

TEST(ScoringKernelsEmulated, KnnRowsMatchTheCpuBackendInSharedAndGlobalAccumulators) {
  std::mt19937_64 rng(13);
  const int64_t users = 14, items = 200;
  const int neighbours = 9;
  const HostCsr user_items = random_rows(rng, users, items, 0.04, true);
  const HostCsr exclude = user_items;  // the usual case: seen items are excluded
  std::vector<int32_t> nb_index(static_cast<std::size_t>(items * neighbours));
  std::vector<float> nb_score(nb_index.size());
  std::uniform_int_distribution<int32_t> item(0, static_cast<int32_t>(items - 1));
  std::uniform_real_distribution<float> sim(0.0f, 1.0f);
  for (int64_t j = 0; j < items; ++j)
    for (int t = 0; t < neighbours; ++t) {
      const std::size_t p = static_cast<std::size_t>(j * neighbours + t);
      nb_index[p] = t < neighbours - 2 ? item(rng) : -1;  // -1 padded lists
      nb_score[p] = t < neighbours - 2 ? sim(rng) : 0.0f;
    }
  const int k = 12;
  auto cpu = make_cpu_backend(1);
  BackendCsr dui(*cpu, user_items), dex(*cpu, exclude);
  Buffer<int32_t> dni(*cpu, nb_index), index(*cpu, users * k);
  Buffer<float> dns(*cpu, nb_score), score(*cpu, users * k);
  cpu->knn_score_topk(dui.view, dni.data(), dns.data(), neighbours, items, dex.view, k, index.data(), score.data());
  const TopK want{index.to_host(), score.to_host()};

  const cuda::KnnArgs args{user_items.host_view(), nb_index.data(), nb_score.data(), neighbours, items,
                           exclude.host_view(), k};
  for (bool shared : {true, false}) {
    SCOPED_TRACE(shared ? "shared" : "global");
    TopK got{std::vector<int32_t>(static_cast<std::size_t>(users * k), -9),
             std::vector<float>(static_cast<std::size_t>(users * k), NAN)};
    int flag = 0;
    if (shared) {
      const std::size_t bytes = static_cast<std::size_t>((items * 5 + 15) / 16 * 16);
      emu::launch(dim3(3), dim3(cuda::kTopkThreads), bytes, cuda::knn_rows_kernel<true>, args, got.index.data(),
                  got.score.data(), &flag, nullptr, nullptr, nullptr);
    } else {
      std::vector<float> acc(static_cast<std::size_t>(2 * items), 0.0f);
      std::vector<int> state(acc.size(), 0);
      std::vector<int32_t> list(acc.size(), 0);
      emu::launch(dim3(2), dim3(cuda::kTopkThreads), 0, cuda::knn_rows_kernel<false>, args, got.index.data(),
                  got.score.data(), &flag, acc.data(), state.data(), list.data());
      for (float a : acc) EXPECT_EQ(a, 0.0f);
      for (int s : state) EXPECT_EQ(s, 0);
    }
    EXPECT_EQ(flag, 0);
    expect_same_topk(want, got, users, k, 1e-4);
  }
}

}  // namespace
}  // namespace cohort::test
