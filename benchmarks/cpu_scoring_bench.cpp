// CPU top-k scoring: U.Vt plus a group term with the training items excluded, and item-kNN.
#include <benchmark/benchmark.h>

#include <vector>

#include "bench_data.hpp"
#include "kernels/cpu/cpu_backend.hpp"

namespace cohort {
namespace {

constexpr int kTopK = 20;
constexpr int64_t kFactors = 64;
constexpr int64_t kGroups = 16;
constexpr int kNeighbours = 50;

// Args: users, items, interactions (the exclusion lists).
void BM_CpuScoreTopk(benchmark::State& state) {
  auto backend = make_cpu_backend(0);
  const int64_t users = state.range(0), items = state.range(1);
  const auto seen = bench::random_interactions(users, items, state.range(2), 42);
  bench::BackendCsr exclude(*backend, seen);
  Buffer<float> uf(*backend, bench::random_normal(static_cast<std::size_t>(users * kFactors), 0.1f, 1));
  Buffer<float> vf(*backend, bench::random_normal(static_cast<std::size_t>(items * kFactors), 0.1f, 2));
  Buffer<float> gs(*backend, bench::random_normal(static_cast<std::size_t>(kGroups * items), 1.0f, 3));
  std::vector<int32_t> group(static_cast<std::size_t>(users));
  for (int64_t u = 0; u < users; ++u) group[u] = static_cast<int32_t>(u % kGroups);
  Buffer<int32_t> ug(*backend, group);
  Buffer<float> gw(*backend, std::vector<float>(static_cast<std::size_t>(users), 0.5f));
  ScoreTerms terms;
  terms.user_factors = uf.matrix(users, kFactors);
  terms.item_factors = vf.matrix(items, kFactors);
  terms.group_scores = gs.matrix(kGroups, items);
  terms.user_group = ug.data();
  terms.group_weight = gw.data();
  Buffer<int32_t> index(*backend, users * kTopK);
  Buffer<float> score(*backend, users * kTopK);
  for (auto _ : state) {
    backend->score_topk(terms, users, items, exclude.view, kTopK, index.data(), score.data());
    benchmark::DoNotOptimize(score.data());
  }
  state.SetItemsProcessed(state.iterations() * users);
}
BENCHMARK(BM_CpuScoreTopk)
    ->Args({2000, 500, 20000})
    ->Args({20000, 5000, 1000000})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_CpuKnnScoreTopk(benchmark::State& state) {
  auto backend = make_cpu_backend(0);
  const int64_t users = state.range(0), items = state.range(1);
  const auto seen = bench::random_interactions(users, items, state.range(2), 42);
  bench::BackendCsr user_items(*backend, seen);
  std::mt19937_64 rng(5);
  std::vector<int32_t> nb_index(static_cast<std::size_t>(items * kNeighbours));
  for (auto& i : nb_index) i = static_cast<int32_t>(rng() % items);
  Buffer<int32_t> ni(*backend, nb_index);
  Buffer<float> ns(*backend, bench::random_normal(nb_index.size(), 1.0f, 6));
  Buffer<int32_t> index(*backend, users * kTopK);
  Buffer<float> score(*backend, users * kTopK);
  for (auto _ : state) {
    backend->knn_score_topk(user_items.view, ni.data(), ns.data(), kNeighbours, items, user_items.view, kTopK,
                            index.data(), score.data());
    benchmark::DoNotOptimize(score.data());
  }
  state.SetItemsProcessed(state.iterations() * users);
}
BENCHMARK(BM_CpuKnnScoreTopk)
    ->Args({2000, 500, 20000})
    ->Args({20000, 5000, 1000000})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace cohort
