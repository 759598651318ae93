// The CUDA iALS kernels (kernels/cuda/als_kernels.cuh) run on the CPU emulation of the device
// language and compared with the CPU backend on fresh random inputs: ragged and empty rows,
// rows longer than a staging chunk, f not a multiple of 8 or 32, both tile-count variants of
// the register-tiled Cholesky, the general Cholesky, conjugate gradient, the loss, bad
// indices and a singular system; the f x f kernel's tensor-core build where it fits. Runs without a GPU; the same kernels run on the GPU in
// backend_diff_gpu_test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda/als_kernels.cuh"
#include "kernels/cpu/cpu_backend.hpp"
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
  std::vector<float> x0;    // users x f
  int64_t items = 0;
  int f = 0;
};

// users rows over items columns: row 1 empty, row 0 long (several staging chunks), the rest
// ragged; confidences in [1, 20] (some exactly 1: weight 0) or ratings in [-2, 5].
Problem make_problem(std::mt19937_64& rng, int64_t users, int64_t items, int f, bool implicit) {
  Problem p;
  p.items = items;
  p.f = f;
  p.rows.cols = items;
  std::uniform_real_distribution<float> value(implicit ? 1.0f : -2.0f, implicit ? 20.0f : 5.0f);
  std::uniform_int_distribution<int64_t> length(0, std::min<int64_t>(items, 12));
  for (int64_t u = 0; u < users; ++u) {
    const int64_t n = u == 0 ? std::min<int64_t>(items, cuda::kBuildChunk * 2 + 7) : u == 1 ? 0 : length(rng);
    std::vector<int32_t> all(static_cast<std::size_t>(items));
    std::iota(all.begin(), all.end(), 0);
    std::shuffle(all.begin(), all.end(), rng);
    std::vector<int32_t> cols(all.begin(), all.begin() + n);
    std::sort(cols.begin(), cols.end());
    std::vector<float> vals;
    for (std::size_t k = 0; k < cols.size(); ++k) vals.push_back(implicit && k % 7 == 3 ? 1.0f : value(rng));
    p.rows.add_row(cols, vals);
  }
  std::uniform_real_distribution<float> factor(-0.5f, 0.5f);
  p.y.resize(static_cast<std::size_t>(items * f));
  for (float& e : p.y) e = factor(rng);
  p.gram.assign(static_cast<std::size_t>(f * f), 0.0f);
  for (int64_t i = 0; i < items; ++i)
    for (int a = 0; a < f; ++a)
      for (int b = 0; b < f; ++b) p.gram[a * f + b] += p.y[i * f + a] * p.y[i * f + b];
  p.x0.resize(static_cast<std::size_t>(users * f));
  std::uniform_real_distribution<float> start(-0.1f, 0.1f);
  for (float& e : p.x0) e = start(rng);
  return p;
}

// The CPU backend's solution from x0.
std::vector<float> cpu_solve(const Problem& p, float reg, AlsMode mode, SolverKind solver, int steps) {
  auto cpu = make_cpu_backend(1);
  BackendCsr rows(*cpu, p.rows);
  Buffer<float> y(*cpu, p.y), g(*cpu, p.gram), x(*cpu, p.x0);
  cpu->als_solve(rows.view, y.matrix(p.items, p.f), g.data(), reg, mode, solver, steps,
                 x.matrix(p.rows.rows, p.f));
  return x.to_host();
}

// Rows longest first, as als.cu orders them (stable: ties by row).
std::vector<int32_t> longest_first(const HostCsr& h) {
  std::vector<int32_t> order(static_cast<std::size_t>(h.rows));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return h.indptr[a + 1] - h.indptr[a] > h.indptr[b + 1] - h.indptr[b];
  });
  return order;
}

struct EmulatedResult {
  std::vector<float> x;
  int flag = 0;
  unsigned long long failed_row = ~0ull;
};

enum class Kernel { tiled, tiled_tensor, general, cg, cg_hybrid };

// Rows longer than this go to the block CG kernel in the hybrid launch, the rest to the warp
// kernel: small, so that both kernels get rows here (als.cu uses kCgWarpMaxNnz).
constexpr int64_t kTestWarpMaxNnz = 8;

EmulatedResult emulate(const Problem& p, float reg, AlsMode mode, Kernel kernel, int steps, unsigned blocks) {
  const bool implicit = mode == AlsMode::implicit;
  EmulatedResult out;
  out.x = p.x0;
  SolveArgs args{p.rows.host_view(), p.y.data(), p.f, p.items, implicit ? p.gram.data() : nullptr, reg, implicit, p.f,
                 out.x.data(), p.f};
  const std::vector<int32_t> order = longest_first(p.rows);
  unsigned long long next_row = 0;
  const unsigned grid = std::max(1u, std::min<unsigned>(blocks, static_cast<unsigned>(p.rows.rows)));
  switch (kernel) {
    case Kernel::tiled: {
      const auto shared = static_cast<std::size_t>(cuda::tiled_shared_bytes(p.f));
      const unsigned threads = static_cast<unsigned>(cuda::tiled_threads(p.f));
      if (threads <= 160) {
        emu::launch(dim3(grid), dim3(threads), shared, cuda::als_cholesky_tiled_kernel<160>, args, order.data(),
                    p.rows.rows, &next_row, &out.flag, &out.failed_row);
      } else {
        emu::launch(dim3(grid), dim3(threads), shared, cuda::als_cholesky_tiled_kernel<544>, args, order.data(),
                    p.rows.rows, &next_row, &out.flag, &out.failed_row);
      }
      break;
    }
    case Kernel::tiled_tensor: {
      // The sum of w y y^T on the (emulated) tensor cores in split TF32.
      emu::launch(dim3(grid), dim3(static_cast<unsigned>(cuda::tiled_threads(p.f))),
                  static_cast<std::size_t>(cuda::tiled_shared_bytes(p.f, true)),
                  cuda::als_cholesky_tiled_kernel<160, 1, true>, args, order.data(), p.rows.rows, &next_row, &out.flag,
                  &out.failed_row);
      break;
    }
    case Kernel::general: {
      std::vector<float> global_a(static_cast<std::size_t>(grid) * p.f * p.f);
      emu::launch(dim3(grid), dim3(cuda::kGeneralThreads), static_cast<std::size_t>(cuda::general_shared_bytes(p.f)),
                  cuda::als_cholesky_general_kernel, args, global_a.data(), &out.flag, &out.failed_row);
      break;
    }
    case Kernel::cg: {
      const int warps = cuda::cg_warps(p.f, 227 * 1024);
      emu::launch(dim3(grid), dim3(static_cast<unsigned>(32 * warps)),
                  static_cast<std::size_t>(cuda::cg_shared_bytes(p.f, warps)), cuda::als_cg_kernel, args, steps,
                  order.data(), p.rows.rows, &next_row, &out.flag);
      break;
    }
    case Kernel::cg_hybrid: {
      // As als.cu launches them: the long rows (first in `order`) a block each, the rest a warp each.
      int64_t longer = 0;
      for (int32_t u : order) longer += p.rows.indptr[u + 1] - p.rows.indptr[u] > kTestWarpMaxNnz;
      if (longer > 0) {
        const int warps = cuda::cg_warps(p.f, 227 * 1024);
        emu::launch(dim3(grid), dim3(static_cast<unsigned>(32 * warps)),
                    static_cast<std::size_t>(cuda::cg_shared_bytes(p.f, warps)), cuda::als_cg_kernel, args, steps,
                    order.data(), longer, &next_row, &out.flag);
      }
      unsigned long long next_warp_row = 0;
      auto launch_warp = [&](auto kernel) {
        emu::launch(dim3(2), dim3(cuda::kCgWarpThreads), 0, kernel, args, steps, order.data(), longer,
                    &next_warp_row, &out.flag);
      };
      switch ((p.f + 31) / 32) {
        case 1: launch_warp(cuda::als_cg_warp_kernel<1>); break;
        case 2: launch_warp(cuda::als_cg_warp_kernel<2>); break;
        case 3: launch_warp(cuda::als_cg_warp_kernel<3>); break;
        default: launch_warp(cuda::als_cg_warp_kernel<4>); break;
      }
      break;
    }
  }
  return out;
}

struct Case {
  int f;
  int64_t users;
  int64_t items;
};

class AlsKernelsEmulated : public ::testing::TestWithParam<Case> {};

TEST_P(AlsKernelsEmulated, CholeskyAndCgMatchTheCpuBackend) {
  const Case c = GetParam();
  for (AlsMode mode : {AlsMode::implicit, AlsMode::explicit_ratings}) {
    const uint64_t seed = 1000 + c.f;
    SCOPED_TRACE("seed " + std::to_string(seed) + " f " + std::to_string(c.f) +
                 (mode == AlsMode::implicit ? " implicit" : " explicit"));
    std::mt19937_64 rng(seed);
    const Problem p = make_problem(rng, c.users, c.items, c.f, mode == AlsMode::implicit);
    const float reg = 0.5f;

    const std::vector<float> chol = cpu_solve(p, reg, mode, SolverKind::cholesky, 0);
    const EmulatedResult tiled = emulate(p, reg, mode, Kernel::tiled, 0, 3);
    EXPECT_EQ(tiled.flag, 0);
    EXPECT_EQ(tiled.failed_row, ~0ull);
    EXPECT_TRUE(all_near(chol, tiled.x, 1e-4, 1e-3)) << "register-tiled cholesky";
    if (cuda::tensor_build_fits(c.f)) {
      const EmulatedResult tensor = emulate(p, reg, mode, Kernel::tiled_tensor, 0, 3);
      EXPECT_EQ(tensor.flag, 0);
      EXPECT_EQ(tensor.failed_row, ~0ull);
      EXPECT_TRUE(all_near(chol, tensor.x, 1e-4, 1e-3)) << "register-tiled cholesky, tensor-core build";
      for (int q = 0; q < c.f; ++q) EXPECT_EQ(tensor.x[c.f + q], 0.0f);  // row 1 is empty
    }
    if (c.f <= 40) {
      const EmulatedResult general = emulate(p, reg, mode, Kernel::general, 0, 3);
      EXPECT_EQ(general.flag, 0);
      EXPECT_TRUE(all_near(chol, general.x, 1e-4, 1e-3)) << "general cholesky";
    }

    const std::vector<float> cg_cpu = cpu_solve(p, reg, mode, SolverKind::conjugate_gradient, 3);
    const EmulatedResult cg = emulate(p, reg, mode, Kernel::cg, 3, 2);
    EXPECT_EQ(cg.flag, 0);
    EXPECT_TRUE(all_near(cg_cpu, cg.x, 1e-3, 2e-3)) << "conjugate gradient";
    if (c.f <= cuda::kCgWarpMaxFactors) {
      const EmulatedResult hybrid = emulate(p, reg, mode, Kernel::cg_hybrid, 3, 2);
      EXPECT_EQ(hybrid.flag, 0);
      EXPECT_TRUE(all_near(cg_cpu, hybrid.x, 1e-3, 2e-3)) << "conjugate gradient, long rows a block, short a warp";
      for (int q = 0; q < c.f; ++q) EXPECT_EQ(hybrid.x[c.f + q], 0.0f);
    }

    for (int q = 0; q < c.f; ++q) {  // row 1 is empty: zeros
      EXPECT_EQ(tiled.x[c.f + q], 0.0f);
      EXPECT_EQ(cg.x[c.f + q], 0.0f);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, AlsKernelsEmulated,
                         ::testing::Values(Case{1, 9, 150}, Case{5, 11, 140}, Case{8, 9, 140}, Case{13, 12, 150},
                                           Case{40, 8, 140}, Case{64, 5, 140}, Case{72, 5, 140},
                                           Case{128, 4, 140}),
                         [](const ::testing::TestParamInfo<Case>& info) { return std::to_string(info.param.f) + "f"; });

// f above 128 takes the 544-thread variant (17 tile rows here).
TEST(AlsKernelsEmulatedWide, TiledCholeskyWithMoreThan16TileRows) {
  std::mt19937_64 rng(77);
  const Problem p = make_problem(rng, 3, 140, 131, true);
  const std::vector<float> chol = cpu_solve(p, 0.5f, AlsMode::implicit, SolverKind::cholesky, 0);
  const EmulatedResult tiled = emulate(p, 0.5f, AlsMode::implicit, Kernel::tiled, 0, 2);
  EXPECT_EQ(tiled.flag, 0);
  EXPECT_TRUE(all_near(chol, tiled.x, 1e-4, 1e-3));
}

TEST(AlsKernelsEmulatedErrors, SingularRowsAreReportedAndTheRestSolved) {
  // Explicit ratings, reg 0: a row with fewer ratings than factors is singular.
  Problem p;
  p.f = 4;
  p.items = 6;
  p.rows.cols = 6;
  p.rows.add_row({0, 1, 2, 3, 4}, {1, 2, 3, 4, 5});
  p.rows.add_row({0, 5}, {1, 2});  // rank 2 < 4
  p.rows.add_row({1, 2, 3, 4, 5}, {5, 4, 3, 2, 1});
  p.y = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1};
  p.gram.assign(16, 0.0f);
  p.x0.assign(12, 0.25f);
  for (Kernel k : {Kernel::tiled, Kernel::tiled_tensor, Kernel::general}) {
    const EmulatedResult r = emulate(p, 0.0f, AlsMode::explicit_ratings, k, 0, 2);
    EXPECT_EQ(r.failed_row, 1ull);
    for (int q = 0; q < 4; ++q) EXPECT_EQ(r.x[4 + q], 0.0f);
    // Row 0: y rows 0..3 are the identity, so x = the first four ratings, adjusted by item 4.
    const std::vector<float> want = cpu_solve(p, 1e-6f, AlsMode::explicit_ratings, SolverKind::cholesky, 0);
    for (int q = 0; q < 4; ++q) EXPECT_NEAR(r.x[q], want[q], 1e-3);
  }
}

TEST(AlsKernelsEmulatedErrors, BadColumnIndexRaisesTheFlag) {
  std::mt19937_64 rng(5);
  Problem p = make_problem(rng, 6, 20, 9, true);
  p.rows.indices[p.rows.indptr[2]] = 20;  // == items: out of range
  p.rows.indices[p.rows.indptr[0] + 1] = -3;
  for (Kernel k : {Kernel::tiled, Kernel::tiled_tensor, Kernel::general, Kernel::cg, Kernel::cg_hybrid}) {
    const EmulatedResult r = emulate(p, 0.5f, AlsMode::implicit, k, 2, 2);
    EXPECT_EQ(r.flag, cuda::kAlsBadIndex);
  }
}

TEST(AlsKernelsEmulatedLoss, MatchesTheCpuBackend) {
  for (AlsMode mode : {AlsMode::implicit, AlsMode::explicit_ratings}) {
    std::mt19937_64 rng(31);
    const Problem p = make_problem(rng, 10, 150, 21, mode == AlsMode::implicit);
    auto cpu = make_cpu_backend(1);
    BackendCsr rows(*cpu, p.rows);
    Buffer<float> y(*cpu, p.y), g(*cpu, p.gram), x(*cpu, p.x0);
    const double want = cpu->als_loss(rows.view, x.matrix(p.rows.rows, p.f), y.matrix(p.items, p.f), g.data(), mode);
    std::vector<double> row_loss(static_cast<std::size_t>(p.rows.rows));
    int flag = 0;
    emu::launch(dim3(3), dim3(cuda::kLossThreads), 0, cuda::als_loss_kernel, p.rows.host_view(), p.x0.data(),
                int64_t{p.f}, p.y.data(), int64_t{p.f}, p.items, p.gram.data(), p.f, mode == AlsMode::implicit,
                row_loss.data(), &flag);
    double total = 0.0;
    emu::launch(dim3(1), dim3(cuda::kLossThreads), 0, cuda::ordered_sum_kernel<cuda::kLossThreads>, row_loss.data(),
                p.rows.rows, &total);
    EXPECT_EQ(flag, 0);
    EXPECT_NEAR(total, want, 1e-4 * (1.0 + std::fabs(want)));
  }
}

}  // namespace
}  // namespace cohort::test
