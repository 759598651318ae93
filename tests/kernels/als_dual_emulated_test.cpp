// The dual form of the iALS Cholesky solve (kernels/cuda/als_dual_kernels.cuh) on the CPU
// emulation of the device language, against the CPU backend's f x f solve on fresh random
// inputs: rows of every length below f across each instance's band of lengths, weight-0
// entries, explicit ratings, a bad index, a non-finite confidence, and R^-1 itself. The
// launcher's routing (als.cu) is tested through the emulated backend in backend_diff_gpu_test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cuda/als_dual_kernels.cuh"
#include "tests/kernels/cpu_test_support.hpp"
#include "tests/kernels/emulated_test_support.hpp"

namespace cohort::test {
namespace {

namespace emu = cohort::cuda_emulation;
using cuda::SolveArgs;

struct Problem {
  HostCsr rows;
  std::vector<float> y;     // items x f
  std::vector<float> gram;  // f x f
  int64_t items = 0;
  int f = 0;
};

// One row of each length in `lengths` over distinct random items; confidences in [1, 20]
// (every fifth exactly 1: weight 0). The dual form serves implicit feedback only (als.cu).
Problem make_problem(std::mt19937_64& rng, const std::vector<int64_t>& lengths, int64_t items, int f) {
  Problem p;
  p.items = items;
  p.f = f;
  p.rows.cols = items;
  std::uniform_real_distribution<float> value(1.0f, 20.0f);
  std::vector<int32_t> all(static_cast<std::size_t>(items));
  std::iota(all.begin(), all.end(), 0);
  for (int64_t n : lengths) {
    std::shuffle(all.begin(), all.end(), rng);
    std::vector<int32_t> cols(all.begin(), all.begin() + n);
    std::sort(cols.begin(), cols.end());
    std::vector<float> vals;
    for (std::size_t k = 0; k < cols.size(); ++k) vals.push_back(k % 5 == 2 ? 1.0f : value(rng));
    p.rows.add_row(cols, vals);
  }
  std::uniform_real_distribution<float> factor(-0.5f, 0.5f);
  p.y.resize(static_cast<std::size_t>(items * f));
  for (float& e : p.y) e = factor(rng);
  std::vector<double> g(static_cast<std::size_t>(f * f), 0.0);
  for (int64_t i = 0; i < items; ++i)
    for (int a = 0; a < f; ++a)
      for (int b = 0; b < f; ++b) g[a * f + b] += double{p.y[i * f + a]} * p.y[i * f + b];
  p.gram.assign(g.begin(), g.end());
  return p;
}

std::vector<float> cpu_cholesky(const Problem& p, float reg) {
  auto cpu = make_cpu_backend(1);
  BackendCsr rows(*cpu, p.rows);
  Buffer<float> y(*cpu, p.y), g(*cpu, p.gram), x(*cpu, p.rows.rows * p.f);
  cpu->als_solve(rows.view, y.matrix(p.items, p.f), g.data(), reg, AlsMode::implicit, SolverKind::cholesky, 0,
                 x.matrix(p.rows.rows, p.f));
  return x.to_host();
}

struct EmulatedResult {
  std::vector<float> x;
  int flag = 0;
  unsigned long long failed_row = ~0ull;
  int launches = 0;  // instances that got rows
};

template <int kWarps>
void launch_band(const SolveArgs& args, const cuda::DualArgs& dual, const std::vector<int32_t>& rows,
                 EmulatedResult& out) {
  if (rows.empty()) return;
  unsigned long long next_row = 0;
  const unsigned grid = static_cast<unsigned>(std::min<std::size_t>(rows.size(), 3));
  emu::launch(dim3(grid), dim3(32 * kWarps), static_cast<std::size_t>(cuda::dual_shared_bytes(kWarps)),
              cuda::als_cholesky_dual_kernel<kWarps>, args, dual, rows.data(), static_cast<int64_t>(rows.size()),
              &next_row, &out.flag, &out.failed_row);
  ++out.launches;
}

// Every row (all shorter than f) through the dual kernel: Z and W from R^-1 on the host, each
// row to the narrowest instance that holds it, longest first, as als.cu launches them.
EmulatedResult emulate(const Problem& p, float reg) {
  EmulatedResult out;
  out.x.assign(static_cast<std::size_t>(p.rows.rows * p.f), -7.0f);  // every entry must be written
  const auto rinv = cuda::inverse_cholesky_factor(p.gram.data(), p.f, reg);
  EXPECT_TRUE(rinv.has_value());
  if (!rinv) return out;
  const int64_t ld = cuda::dual_ld(p.f);
  // Z = Y R^-T, W = Z R^-1, padded rows (the padding is never read; NaN makes sure).
  std::vector<float> z(static_cast<std::size_t>(p.items * ld), NAN), w(z.size(), NAN);
  for (int64_t i = 0; i < p.items; ++i) {
    for (int a = 0; a < p.f; ++a) {
      double sum = 0.0;
      for (int k = 0; k <= a; ++k) sum += double{(*rinv)[a * p.f + k]} * p.y[i * p.f + k];
      z[i * ld + a] = static_cast<float>(sum);
    }
    for (int a = 0; a < p.f; ++a) {
      double sum = 0.0;
      for (int k = a; k < p.f; ++k) sum += double{z[i * ld + k]} * (*rinv)[k * p.f + a];
      w[i * ld + a] = static_cast<float>(sum);
    }
  }
  const SolveArgs args{p.rows.host_view(), p.y.data(), p.f, p.items, p.gram.data(), reg, true, p.f,
                       out.x.data(), p.f};
  const cuda::DualArgs dual{z.data(), w.data(), ld};
  std::vector<int32_t> order(static_cast<std::size_t>(p.rows.rows));
  std::iota(order.begin(), order.end(), 0);
  auto length = [&](int32_t u) { return p.rows.indptr[u + 1] - p.rows.indptr[u]; };
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return length(a) > length(b); });
  std::vector<int32_t> band[std::size(cuda::kDualWarpCounts)];
  for (int32_t u : order) {
    std::size_t c = 0;
    while (cuda::dual_max_nnz(cuda::kDualWarpCounts[c]) < length(u)) ++c;
    band[c].push_back(u);
  }
  launch_band<1>(args, dual, band[0], out);
  launch_band<2>(args, dual, band[1], out);
  launch_band<3>(args, dual, band[2], out);
  launch_band<5>(args, dual, band[3], out);
  launch_band<9>(args, dual, band[4], out);
  launch_band<17>(args, dual, band[5], out);
  return out;
}

// Every length from 0 to f - 1 once (capped at `most` rows, spread evenly), shuffled.
std::vector<int64_t> lengths_below(std::mt19937_64& rng, int f, int most) {
  std::vector<int64_t> lengths;
  const int step = std::max(1, f / most);
  for (int n = 0; n < f; n += step) lengths.push_back(n);
  lengths.push_back(f - 1);
  std::shuffle(lengths.begin(), lengths.end(), rng);
  return lengths;
}

class AlsDualEmulated : public ::testing::TestWithParam<int> {};

// Implicit feedback only: als.cu solves explicit rows in the f x f form (their ridge terms
// differ by length).
TEST_P(AlsDualEmulated, MatchesTheCpuBackendsFullSystem) {
  const int f = GetParam();
  for (float reg : {0.5f, 0.01f}) {
    const uint64_t seed = 2000 + static_cast<uint64_t>(f);
    SCOPED_TRACE("seed " + std::to_string(seed) + " f " + std::to_string(f) + " reg " + std::to_string(reg));
    std::mt19937_64 rng(seed);
    const Problem p = make_problem(rng, lengths_below(rng, f, 24), 2 * f + 40, f);
    const EmulatedResult got = emulate(p, reg);
    EXPECT_EQ(got.flag, 0);
    EXPECT_EQ(got.failed_row, ~0ull);
    EXPECT_TRUE(all_near(cpu_cholesky(p, reg), got.x, 1e-4, 1e-3));
  }
}

// 5: one tile row; 13 and 40: one warp; 72: up to the 2-warp band; 136: through the 9-warp
// band; 257: every band, the 17-warp one too.
INSTANTIATE_TEST_SUITE_P(Factors, AlsDualEmulated, ::testing::Values(5, 13, 40, 72, 136, 257),
                         [](const ::testing::TestParamInfo<int>& info) { return std::to_string(info.param) + "f"; });

TEST(AlsDualEmulatedBands, EachInstanceGetsTheRowsOfItsBand) {
  std::mt19937_64 rng(4);
  const Problem p = make_problem(rng, lengths_below(rng, 257, 24), 300, 257);
  EXPECT_EQ(emulate(p, 0.5f).launches, static_cast<int>(std::size(cuda::kDualWarpCounts)));
  EXPECT_EQ(cuda::dual_max_nnz(17), cuda::kDualMaxNnz);
  int previous = 0;
  for (int warps : cuda::kDualWarpCounts) {
    EXPECT_GT(cuda::dual_max_nnz(warps), previous);
    EXPECT_LE(cuda::lower_tiles(cuda::dual_max_nnz(warps) / cuda::kTile), 32 * warps);
    previous = cuda::dual_max_nnz(warps);
  }
}

TEST(AlsDualEmulatedErrors, BadIndexIsFlaggedAndContributesNothing) {
  std::mt19937_64 rng(8);
  Problem p = make_problem(rng, {6, 9, 3}, 40, 16);
  const std::vector<float> clean = cpu_cholesky(p, 0.5f);
  // Row 1 gets an index past the items: the kernel drops it, as the f x f kernels do.
  p.rows.indices[p.rows.indptr[1] + 4] = 40;
  const EmulatedResult got = emulate(p, 0.5f);
  EXPECT_EQ(got.flag, cuda::kAlsBadIndex);
  for (int q = 0; q < 16; ++q) {
    EXPECT_NEAR(got.x[q], clean[q], 1e-4 + 1e-3 * std::fabs(clean[q]));  // row 0 untouched
    EXPECT_NEAR(got.x[32 + q], clean[32 + q], 1e-4 + 1e-3 * std::fabs(clean[32 + q]));
  }
}

TEST(AlsDualEmulatedErrors, NonFiniteConfidenceFailsItsRowOnly) {
  std::mt19937_64 rng(9);
  Problem p = make_problem(rng, {5, 7, 4}, 30, 12);
  const std::vector<float> want = cpu_cholesky(p, 0.5f);
  p.rows.values[p.rows.indptr[1] + 2] = INFINITY;
  const EmulatedResult got = emulate(p, 0.5f);
  EXPECT_EQ(got.failed_row, 1ull);
  for (int q = 0; q < 12; ++q) {
    EXPECT_EQ(got.x[12 + q], 0.0f);
    EXPECT_NEAR(got.x[24 + q], want[24 + q], 1e-4 + 1e-3 * std::fabs(want[24 + q]));
  }
}

TEST(AlsDualInverseFactor, InvertsTheCholeskyFactorOfGramPlusReg) {
  std::mt19937_64 rng(10);
  const Problem p = make_problem(rng, {1}, 50, 23);
  const float reg = 0.3f;
  const auto rinv = cuda::inverse_cholesky_factor(p.gram.data(), p.f, reg);
  ASSERT_TRUE(rinv.has_value());
  // R^-1 G R^-T = I, and R^-1 is lower triangular.
  const int f = p.f;
  for (int a = 0; a < f; ++a) {
    for (int b = a + 1; b < f; ++b) EXPECT_EQ((*rinv)[a * f + b], 0.0f);
    for (int b = 0; b < f; ++b) {
      double sum = 0.0;
      for (int k = 0; k < f; ++k)
        for (int l = 0; l < f; ++l)
          sum += double{(*rinv)[a * f + k]} * (p.gram[k * f + l] + (k == l ? reg : 0.0f)) * (*rinv)[b * f + l];
      EXPECT_NEAR(sum, a == b ? 1.0 : 0.0, 1e-4) << a << "," << b;
    }
  }
}

TEST(AlsDualInverseFactor, RefusesWhatIsNotPositiveDefinite) {
  // Explicit ratings with reg 0: G = 0.
  EXPECT_FALSE(cuda::inverse_cholesky_factor(nullptr, 4, 0.0f).has_value());
  // Rank 1 with a tiny reg: the second pivot is ~1e-9 of its diagonal.
  const std::vector<float> rank1 = {1, 1, 1, 1};
  EXPECT_FALSE(cuda::inverse_cholesky_factor(rank1.data(), 2, 1e-9f).has_value());
  EXPECT_TRUE(cuda::inverse_cholesky_factor(rank1.data(), 2, 1e-2f).has_value());
  const std::vector<float> not_finite = {NAN, 0, 0, 1};
  EXPECT_FALSE(cuda::inverse_cholesky_factor(not_finite.data(), 2, 1.0f).has_value());
  // Explicit ratings with reg > 0: R^-1 = I / sqrt(reg).
  const auto scaled = cuda::inverse_cholesky_factor(nullptr, 3, 4.0f);
  ASSERT_TRUE(scaled.has_value());
  EXPECT_EQ(*scaled, (std::vector<float>{0.5f, 0, 0, 0, 0.5f, 0, 0, 0, 0.5f}));
}

}  // namespace
}  // namespace cohort::test
