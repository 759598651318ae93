// The CPU embedding-training kernels at f = 64 on random interactions with a fixed seed:
// size 0 is small (2,000 users x 500 items x 20,000 interactions), size 1 is near the
// default data (20,000 users x 5,000 items x 1,000,000 interactions).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "kernels/backend.hpp"
#include "kernels/buffer.hpp"
#include "kernels/cpu/cpu_backend.hpp"

namespace cohort {
namespace {

constexpr int64_t kFactors = 64;
constexpr float kReg = 0.1f;
constexpr float kAlpha = 40.0f;

struct Size {
  int64_t users;
  int64_t items;
  int64_t interactions;
};
constexpr Size kSizes[] = {{2000, 500, 20000}, {20000, 5000, 1000000}};

// Random interactions (duplicates merged, so slightly fewer than asked), both orientations,
// confidences 1 + alpha r with r in (0, 1], and factors N(0, 0.1). Built once per size.
struct Data {
  explicit Data(const Size& size) : backend(make_cpu_backend(0)) {
    std::mt19937_64 rng(12345);
    std::uniform_int_distribution<int64_t> user(0, size.users - 1);
    std::uniform_int_distribution<int32_t> item(0, static_cast<int32_t>(size.items - 1));
    std::uniform_real_distribution<float> rating(0.0f, 1.0f);
    std::vector<std::vector<std::pair<int32_t, float>>> rows(size.users);
    for (int64_t k = 0; k < size.interactions; ++k) rows[user(rng)].push_back({item(rng), 1.0f + kAlpha * rating(rng)});
    std::vector<std::vector<std::pair<int32_t, float>>> cols(size.items);
    std::vector<int64_t> indptr{0};
    std::vector<int32_t> indices;
    std::vector<float> values;
    for (int64_t u = 0; u < size.users; ++u) {
      auto& r = rows[u];
      std::sort(r.begin(), r.end());
      r.erase(std::unique(r.begin(), r.end(), [](const auto& a, const auto& b) { return a.first == b.first; }),
              r.end());
      for (const auto& [i, v] : r) {
        indices.push_back(i);
        values.push_back(v);
        cols[i].push_back({static_cast<int32_t>(u), v});
      }
      indptr.push_back(static_cast<int64_t>(indices.size()));
    }
    std::vector<int64_t> t_indptr{0};
    std::vector<int32_t> t_indices;
    std::vector<float> t_values;
    for (const auto& c : cols) {
      for (const auto& [u, v] : c) {
        t_indices.push_back(u);
        t_values.push_back(v);
      }
      t_indptr.push_back(static_cast<int64_t>(t_indices.size()));
    }
    nnz = static_cast<int64_t>(indices.size());
    users = size.users;
    items = size.items;
    ui_indptr = Buffer<int64_t>(*backend, indptr);
    ui_indices = Buffer<int32_t>(*backend, indices);
    ui_values = Buffer<float>(*backend, values);
    iu_indptr = Buffer<int64_t>(*backend, t_indptr);
    iu_indices = Buffer<int32_t>(*backend, t_indices);
    iu_values = Buffer<float>(*backend, t_values);
    std::normal_distribution<float> normal(0.0f, 0.1f);
    std::vector<float> x(users * kFactors);
    std::vector<float> y(items * kFactors);
    for (float& v : x) v = normal(rng);
    for (float& v : y) v = normal(rng);
    user_factors = Buffer<float>(*backend, x);
    item_factors = Buffer<float>(*backend, y);
    gram = Buffer<float>(*backend, kFactors * kFactors);
    backend->gram(item_view(), gram.data());
  }

  CsrView user_items() const {
    return {users, items, nnz, ui_indptr.data(), ui_indices.data(), ui_values.data()};
  }
  CsrView item_users() const {
    return {items, users, nnz, iu_indptr.data(), iu_indices.data(), iu_values.data()};
  }
  MatrixView<float> user_view() const { return user_factors.matrix(users, kFactors); }
  MatrixView<float> item_view() const { return item_factors.matrix(items, kFactors); }

  std::unique_ptr<Backend> backend;
  int64_t users = 0;
  int64_t items = 0;
  int64_t nnz = 0;
  Buffer<int64_t> ui_indptr, iu_indptr;
  Buffer<int32_t> ui_indices, iu_indices;
  Buffer<float> ui_values, iu_values;
  Buffer<float> user_factors, item_factors, gram;
};

Data& data(int64_t size_index) {
  static std::map<int64_t, std::unique_ptr<Data>> cache;
  auto& slot = cache[size_index];
  if (!slot) slot = std::make_unique<Data>(kSizes[size_index]);
  return *slot;
}

void BM_Gram(benchmark::State& state) {
  Data& d = data(state.range(0));
  for (auto _ : state) d.backend->gram(d.user_view(), d.gram.data());
  state.SetItemsProcessed(state.iterations() * d.users);
  state.counters["rows"] = static_cast<double>(d.users);
}

void solve_users(benchmark::State& state, SolverKind solver) {
  Data& d = data(state.range(0));
  d.backend->gram(d.item_view(), d.gram.data());
  for (auto _ : state) {
    d.backend->als_solve(d.user_items(), d.item_view(), d.gram.data(), kReg, AlsMode::implicit, solver, 3,
                         d.user_view());
  }
  state.SetItemsProcessed(state.iterations() * d.nnz);
  state.counters["nnz"] = static_cast<double>(d.nnz);
}

void BM_AlsSolveCholesky(benchmark::State& state) { solve_users(state, SolverKind::cholesky); }
void BM_AlsSolveCg3(benchmark::State& state) { solve_users(state, SolverKind::conjugate_gradient); }

// One full iALS iteration: both Gram matrices and both half-steps.
void iterate(benchmark::State& state, SolverKind solver) {
  Data& d = data(state.range(0));
  for (auto _ : state) {
    d.backend->gram(d.item_view(), d.gram.data());
    d.backend->als_solve(d.user_items(), d.item_view(), d.gram.data(), kReg, AlsMode::implicit, solver, 3,
                         d.user_view());
    d.backend->gram(d.user_view(), d.gram.data());
    d.backend->als_solve(d.item_users(), d.user_view(), d.gram.data(), kReg, AlsMode::implicit, solver, 3,
                         d.item_view());
  }
  state.SetItemsProcessed(state.iterations() * 2 * d.nnz);
}

void BM_AlsIterationCholesky(benchmark::State& state) { iterate(state, SolverKind::cholesky); }
void BM_AlsIterationCg3(benchmark::State& state) { iterate(state, SolverKind::conjugate_gradient); }

void BM_AlsLoss(benchmark::State& state) {
  Data& d = data(state.range(0));
  d.backend->gram(d.item_view(), d.gram.data());
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        d.backend->als_loss(d.user_items(), d.user_view(), d.item_view(), d.gram.data(), AlsMode::implicit));
  }
  state.SetItemsProcessed(state.iterations() * d.nnz);
}

void BM_BprEpoch(benchmark::State& state) {
  Data& d = data(state.range(0));
  uint64_t seed = 1;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        d.backend->bpr_epoch(d.user_items(), d.user_view(), d.item_view(), 0.05f, 0.001f, d.nnz, seed++));
  }
  state.SetItemsProcessed(state.iterations() * d.nnz);
}

BENCHMARK(BM_Gram)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_AlsSolveCholesky)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_AlsSolveCg3)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_AlsIterationCholesky)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_AlsIterationCg3)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_AlsLoss)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BprEpoch)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace cohort
