// CPU item-item top-k cosine (the item-kNN fit): a = items x users, a_t = users x items.
#include <benchmark/benchmark.h>

#include "bench_data.hpp"
#include "kernels/cpu/cpu_backend.hpp"

namespace cohort {
namespace {

constexpr int kNeighbours = 50;

// Args: users, items, interactions.
void BM_CpuTopkCosineItems(benchmark::State& state) {
  auto backend = make_cpu_backend(0);
  const auto user_items = bench::random_interactions(state.range(0), state.range(1), state.range(2), 42);
  const auto item_users = bench::transpose(user_items);
  bench::BackendCsr a(*backend, item_users), a_t(*backend, user_items);
  const int64_t items = item_users.rows;
  Buffer<int32_t> index(*backend, items * kNeighbours);
  Buffer<float> score(*backend, items * kNeighbours);
  for (auto _ : state) {
    backend->topk_cosine(a.view, a_t.view, 0, items, kNeighbours, true, index.data(), score.data());
    benchmark::DoNotOptimize(score.data());
  }
  state.counters["nnz"] = static_cast<double>(user_items.indices.size());
  state.SetItemsProcessed(state.iterations() * items);
}
BENCHMARK(BM_CpuTopkCosineItems)
    ->Args({2000, 500, 20000})
    ->Args({20000, 5000, 1000000})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace cohort
