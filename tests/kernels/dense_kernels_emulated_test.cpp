// The CUDA dense kernels (kernels/cuda/dense_kernels.cuh) on the CPU emulation against the CPU
// backend: row norms, normalisation (with an all-zero row), distances from dot products
// (self entries, a clamp below zero), scaling, on shapes that are not multiples of a warp.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cuda/dense_kernels.cuh"
#include "tests/kernels/cpu_test_support.hpp"

namespace cohort::test {
namespace {

namespace emu = cohort::cuda_emulation;

TEST(DenseKernelsEmulated, RowNormsAndNormalizeMatchTheCpuBackend) {
  std::mt19937_64 rng(3);
  const int64_t rows = 45, cols = 37, ld = 40;
  std::vector<float> x = random_uniform(rng, rows * ld, -2, 2);
  std::fill(x.begin() + 5 * ld, x.begin() + 5 * ld + cols, 0.0f);
  auto cpu = make_cpu_backend(1);
  Buffer<float> dx(*cpu, x), dn(*cpu, rows);
  cpu->row_sq_norms(MatrixView<const float>(dx.data(), rows, cols, ld), dn.data());
  cpu->normalize_rows(MatrixView<float>(dx.data(), rows, cols, ld));
  const std::vector<float> want_norms = dn.to_host(), want_x = dx.to_host();

  std::vector<float> norms(rows), got = x;
  emu::launch(dim3(2), dim3(64), 0, cuda::row_sq_norms_kernel, x.data(), rows, cols, ld, norms.data());
  emu::launch(dim3(3), dim3(32), 0, cuda::normalize_rows_kernel, got.data(), rows, cols, ld);
  for (int64_t i = 0; i < rows; ++i) EXPECT_NEAR(norms[i], want_norms[i], 1e-4 * (1 + want_norms[i])) << i;
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) EXPECT_NEAR(got[i * ld + j], want_x[i * ld + j], 1e-6) << i << "," << j;
  for (int64_t j = 0; j < cols; ++j) EXPECT_EQ(got[5 * ld + j], 0.0f);
}

TEST(DenseKernelsEmulated, DistancesFromDotsMatchTheCpuBackend) {
  std::mt19937_64 rng(4);
  const int64_t pts = 70, d = 9, first = 20, block = 33;
  const std::vector<float> p = random_uniform(rng, pts * d, -1, 1);
  auto cpu = make_cpu_backend(1);
  Buffer<float> dp(*cpu, p), sq(*cpu, pts), dd(*cpu, block * pts);
  const MatrixView<const float> all = dp.matrix(pts, d);
  cpu->row_sq_norms(all, sq.data());
  cpu->gemm_nt(-2.0f, all.rows_range(first, first + block), all, 0.0f, dd.matrix(block, pts));
  std::vector<float> dots = dd.to_host();
  dots[3 * pts + 7] = -1e6f;  // a rounding far below zero: clamps to 0
  const std::vector<float> sq_host = sq.to_host();
  dd.upload(dots);
  cpu->distances_from_dots(dd.matrix(block, pts), sq.data() + first, sq.data(), first);
  const std::vector<float> want = dd.to_host();

  std::vector<float> got = dots;
  emu::launch(dim3(2, 5), dim3(32), 0, cuda::distances_from_dots_kernel, got.data(), block, pts, pts,
              sq_host.data() + first, sq_host.data(), first);
  for (std::size_t e = 0; e < want.size(); ++e) EXPECT_NEAR(got[e], want[e], 1e-5) << e;
  for (int64_t r = 0; r < block; ++r) EXPECT_EQ(got[r * pts + first + r], 0.0f);
  EXPECT_EQ(got[3 * pts + 7], 0.0f);
}

TEST(DenseKernelsEmulated, ScaleHonoursTheLeadingDimension) {
  std::vector<float> c(4 * 6, 2.0f);
  emu::launch(dim3(1), dim3(32), 0, cuda::scale_kernel, 0.5f, c.data(), int64_t{4}, int64_t{5}, int64_t{6});
  for (int r = 0; r < 4; ++r) {
    for (int j = 0; j < 5; ++j) EXPECT_EQ(c[r * 6 + j], 1.0f);
    EXPECT_EQ(c[r * 6 + 5], 2.0f);  // padding untouched
  }
  emu::launch(dim3(1), dim3(32), 0, cuda::scale_kernel, 0.0f, c.data(), int64_t{4}, int64_t{5}, int64_t{6});
  EXPECT_EQ(c[0], 0.0f);
}

}  // namespace
}  // namespace cohort::test
