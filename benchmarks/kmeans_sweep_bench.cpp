// The k sweep of the groups phase: every (k, restart) in one batched k-means call, against
// the same problems run one at a time.
#include <benchmark/benchmark.h>

#include <memory>
#include <random>

#include "engine/cluster/model_selection.hpp"
#include "engine/comm/communicator.hpp"
#include "kernels/registry.hpp"

namespace cohort {
namespace {

constexpr int64_t kRows = 20000;
constexpr int64_t kDims = 64;
constexpr int kCentres = 12;
constexpr int kMinK = 2;
constexpr int kMaxK = 32;
constexpr int kRestarts = 3;

// Gaussian clusters around random centres: kRows x kDims.
const Matrix& clustered_data() {
  static const Matrix x = [] {
    Matrix m(kRows, kDims);
    std::mt19937_64 rng(2024);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> centres(static_cast<size_t>(kCentres * kDims));
    for (float& c : centres) c = 3.0f * normal(rng);
    for (int64_t i = 0; i < kRows; ++i) {
      const int64_t c = i % kCentres;
      for (int64_t j = 0; j < kDims; ++j) m.row(i)[j] = centres[c * kDims + j] + normal(rng);
    }
    return m;
  }();
  return x;
}

std::vector<KMeansProblem> sweep_problems() {
  std::vector<KMeansProblem> problems;
  for (int k = kMinK; k <= kMaxK; ++k)
    for (int r = 0; r < kRestarts; ++r) problems.push_back({k, static_cast<uint64_t>(k * 100 + r)});
  return problems;
}

struct Runtime {
  std::unique_ptr<Backend> backend = make_backend("cpu");
  std::unique_ptr<Communicator> comm = make_self_communicator();
  Context ctx{*backend, *comm, 42, 0, {}};
};

// The whole sweep: batched k-means, then silhouette (10,000-row sample), Davies-Bouldin and
// inertia for each k.
void BM_SweepK(benchmark::State& state) {
  Runtime rt;
  SweepConfig config;
  config.k_min = kMinK;
  config.k_max = kMaxK;
  config.restarts = kRestarts;
  config.silhouette_sample = 10000;
  for (auto _ : state) {
    SweepResult r = sweep_k(rt.ctx, clustered_data(), config);
    benchmark::DoNotOptimize(r.best.inertia);
    state.SetLabel("chose k = " + std::to_string(r.best.k));
  }
}
BENCHMARK(BM_SweepK)->Unit(benchmark::kMillisecond)->Iterations(1);

// The same sweep one k at a time (fixed_k, its restarts batched): k-means and the scoring's
// pairwise distances are paid once per k.
void BM_SweepOneKAtATime(benchmark::State& state) {
  Runtime rt;
  for (auto _ : state) {
    for (int k = kMinK; k <= kMaxK; ++k) {
      SweepConfig config;
      config.fixed_k = k;
      config.restarts = kRestarts;
      config.silhouette_sample = 10000;
      SweepResult r = sweep_k(rt.ctx, clustered_data(), config);
      benchmark::DoNotOptimize(r.best.inertia);
    }
  }
}
BENCHMARK(BM_SweepOneKAtATime)->Unit(benchmark::kMillisecond)->Iterations(1);

// The sweep's k-means alone: 93 problems in one batched call.
void BM_KMeansBatched(benchmark::State& state) {
  Runtime rt;
  KMeansConfig config;
  config.problems = sweep_problems();
  config.metric = KMeansMetric::cosine;
  for (auto _ : state) {
    auto solutions = batched_kmeans(rt.ctx, clustered_data(), config);
    benchmark::DoNotOptimize(solutions.data());
  }
}
BENCHMARK(BM_KMeansBatched)->Unit(benchmark::kMillisecond)->Iterations(1);

// The same 93 problems, one batched_kmeans call each.
void BM_KMeansOneAtATime(benchmark::State& state) {
  Runtime rt;
  const std::vector<KMeansProblem> problems = sweep_problems();
  for (auto _ : state) {
    for (const KMeansProblem& p : problems) {
      KMeansConfig config;
      config.problems = {p};
      config.metric = KMeansMetric::cosine;
      auto solutions = batched_kmeans(rt.ctx, clustered_data(), config);
      benchmark::DoNotOptimize(solutions.data());
    }
  }
}
BENCHMARK(BM_KMeansOneAtATime)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace cohort
