// Dense helpers: GEMM through cuBLAS; the kernels of dense_kernels.cuh.
#include <algorithm>

#include "kernels/backend_checks.hpp"
#include "kernels/cuda/cuda_ops.cuh"
#include "kernels/cuda/dense_kernels.cuh"
#include "kernels/cuda/device_util.cuh"

COHORT_CUDA_NAMESPACE_BEGIN

void gemm_nt(DeviceContext& ctx, float alpha, MatrixView<const float> a, MatrixView<const float> b, float beta,
             MatrixView<float> c) {
  check_gemm_nt_args(a, b, c);
  COHORT_CHECK(a.rows <= INT32_MAX && b.rows <= INT32_MAX && a.cols <= INT32_MAX && a.ld <= INT32_MAX &&
                   b.ld <= INT32_MAX && c.ld <= INT32_MAX,
               "gemm_nt: a dimension exceeds cuBLAS's int range");
  if (c.rows == 0 || c.cols == 0) return;
  if (a.cols == 0) {
    launch_kernel(scale_kernel, grid_for(ctx, c.rows * c.cols, 256), 256, 0, ctx.stream(), beta, c.data, c.rows, c.cols,
                  c.ld);
    return;
  }
  // Row-major c (m x n) is column-major c^T (n x m): c^T = alpha b a^T + beta c^T, where the
  // row-major b (n x k) read column-major is b^T (k x n), hence op T; likewise a^T needs op N.
  COHORT_CUBLAS_CHECK(cublasSgemm(ctx.cublas(), CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(c.cols),
                                  static_cast<int>(c.rows), static_cast<int>(a.cols), &alpha, b.data,
                                  static_cast<int>(b.ld), a.data, static_cast<int>(a.ld), &beta, c.data,
                                  static_cast<int>(c.ld)));
}

void row_sq_norms(DeviceContext& ctx, MatrixView<const float> x, float* out) {
  check_row_sq_norms_args(x, out);
  if (x.rows == 0) return;
  launch_kernel(row_sq_norms_kernel, grid_for(ctx, x.rows * 32, 256), 256, 0, ctx.stream(), x.data, x.rows, x.cols,
                x.ld, out);
}

void distances_from_dots(DeviceContext& ctx, MatrixView<float> dots, const float* row_sq, const float* col_sq,
                         int64_t self_offset) {
  check_distances_from_dots_args(dots, row_sq, col_sq);
  if (dots.rows == 0 || dots.cols == 0) return;
  const unsigned across = static_cast<unsigned>(std::min<int64_t>(ceil_div(dots.cols, kDenseThreads), 64));
  const dim3 grid(across, static_cast<unsigned>(std::min<int64_t>(dots.rows, 65535)));
  launch_kernel(distances_from_dots_kernel, grid, kDenseThreads, 0, ctx.stream(), dots.data, dots.rows, dots.cols,
                dots.ld, row_sq, col_sq, self_offset);
}

void normalize_rows(DeviceContext& ctx, MatrixView<float> x) {
  check_normalize_rows_args(x);
  if (x.rows == 0 || x.cols == 0) return;
  launch_kernel(normalize_rows_kernel, grid_for(ctx, x.rows * 32, 256), 256, 0, ctx.stream(), x.data, x.rows, x.cols,
                x.ld);
}

COHORT_CUDA_NAMESPACE_END
