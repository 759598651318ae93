// CPU batched k-means: one assignment and one accumulation over every problem of a sweep
// (k = 2..kmax, 3 restarts each, as one batch), and the k-means++ seeding of all of them.
#include <benchmark/benchmark.h>

#include <vector>

#include "bench_data.hpp"
#include "kernels/cpu/cpu_backend.hpp"

namespace cohort {
namespace {

constexpr int kRestarts = 3;

// The sweep's centroid offsets: k = 2..kmax, each kRestarts times.
std::vector<int64_t> sweep_offsets(int kmax) {
  std::vector<int64_t> offsets{0};
  for (int k = 2; k <= kmax; ++k) {
    for (int r = 0; r < kRestarts; ++r) offsets.push_back(offsets.back() + k);
  }
  return offsets;
}

struct Sweep {
  Sweep(Backend& backend, int64_t n, int64_t d, int kmax)
      : offsets(sweep_offsets(kmax)),
        problems(static_cast<int>(offsets.size()) - 1),
        x(backend, bench::random_normal(static_cast<std::size_t>(n * d), 1.0f, 7)),
        norms(backend, n),
        centroids(backend, bench::random_normal(static_cast<std::size_t>(offsets.back() * d), 1.0f, 8)),
        labels(backend, problems * n),
        best(backend, problems * n),
        second(backend, problems * n),
        sums(backend, offsets.back() * d),
        counts(backend, offsets.back()),
        n_(n),
        d_(d) {
    backend.row_sq_norms(xm(), norms.data());
  }
  MatrixView<float> xm() const { return x.matrix(n_, d_); }
  MatrixView<float> cm() const { return centroids.matrix(offsets.back(), d_); }

  std::vector<int64_t> offsets;
  int problems;
  Buffer<float> x, norms, centroids;
  Buffer<int32_t> labels;
  Buffer<float> best, second;
  Buffer<double> sums, counts;
  int64_t n_, d_;
};

// Args: rows, dimensions, largest k.
void BM_CpuKMeansAssign(benchmark::State& state) {
  auto backend = make_cpu_backend(0);
  Sweep s(*backend, state.range(0), state.range(1), static_cast<int>(state.range(2)));
  for (auto _ : state) {
    backend->kmeans_assign(s.xm(), s.norms.data(), s.cm(), s.offsets.data(), s.problems, s.labels.data(),
                           s.best.data(), s.second.data());
    benchmark::DoNotOptimize(s.best.data());
  }
  state.counters["problems"] = s.problems;
  state.counters["centroids"] = static_cast<double>(s.offsets.back());
}
BENCHMARK(BM_CpuKMeansAssign)->Args({2000, 16, 8})->Args({20000, 64, 32})->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_CpuKMeansAccumulateFinalize(benchmark::State& state) {
  auto backend = make_cpu_backend(0);
  Sweep s(*backend, state.range(0), state.range(1), static_cast<int>(state.range(2)));
  backend->kmeans_assign(s.xm(), s.norms.data(), s.cm(), s.offsets.data(), s.problems, s.labels.data(),
                         s.best.data(), nullptr);
  for (auto _ : state) {
    s.sums.zero();
    s.counts.zero();
    backend->kmeans_accumulate(s.xm(), s.labels.data(), s.offsets.data(), s.problems, s.sums.data(), s.counts.data());
    backend->kmeans_finalize(s.sums.data(), s.counts.data(), s.cm());
    benchmark::DoNotOptimize(s.centroids.data());
  }
}
BENCHMARK(BM_CpuKMeansAccumulateFinalize)
    ->Args({2000, 16, 8})
    ->Args({20000, 64, 32})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Seeds every problem of the sweep, one kmeans_plus_plus call each, as the engine does.
void BM_CpuKMeansPlusPlusSweep(benchmark::State& state) {
  auto backend = make_cpu_backend(0);
  Sweep s(*backend, state.range(0), state.range(1), static_cast<int>(state.range(2)));
  for (auto _ : state) {
    for (int b = 0; b < s.problems; ++b) {
      const int64_t lo = s.offsets[b];
      const int k = static_cast<int>(s.offsets[b + 1] - lo);
      backend->kmeans_plus_plus(s.xm(), s.norms.data(), k, static_cast<uint64_t>(b), s.cm().rows_range(lo, lo + k));
    }
    benchmark::DoNotOptimize(s.centroids.data());
  }
}
BENCHMARK(BM_CpuKMeansPlusPlusSweep)
    ->Args({2000, 16, 8})
    ->Args({20000, 64, 32})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace cohort
