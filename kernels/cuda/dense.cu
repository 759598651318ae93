// Dense helpers: GEMM through cuBLAS, row norms and row normalisation.
#include "kernels/backend_checks.hpp"
#include "kernels/cuda/cuda_ops.cuh"
#include "kernels/cuda/device_util.cuh"

namespace cohort::cuda {
namespace {

__global__ void scale_kernel(float beta, float* c, int64_t rows, int64_t cols, int64_t ld) {
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < rows * cols; e += int64_t{gridDim.x} * blockDim.x) {
    float* p = c + (e / cols) * ld + e % cols;
    *p = beta == 0.0f ? 0.0f : beta * *p;
  }
}

// One warp per row: out[i] = sum_j x(i, j)^2.
__global__ void row_sq_norms_kernel(const float* x, int64_t rows, int64_t cols, int64_t ld, float* out) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t{gridDim.x} * (blockDim.x / 32);
  for (int64_t i = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / 32; i < rows; i += warps) {
    const float* row = x + i * ld;
    float s = 0.0f;
    for (int64_t j = lane; j < cols; j += 32) s += row[j] * row[j];
    s = warp_sum(s);
    if (lane == 0) out[i] = s;
  }
}

__global__ void normalize_rows_kernel(float* x, int64_t rows, int64_t cols, int64_t ld) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t{gridDim.x} * (blockDim.x / 32);
  for (int64_t i = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / 32; i < rows; i += warps) {
    float* row = x + i * ld;
    float s = 0.0f;
    for (int64_t j = lane; j < cols; j += 32) s += row[j] * row[j];
    s = warp_sum(s);
    if (s > 0.0f) {
      const float inv = 1.0f / sqrtf(s);
      for (int64_t j = lane; j < cols; j += 32) row[j] *= inv;
    }
  }
}

}  // namespace

void gemm_nt(DeviceContext& ctx, float alpha, MatrixView<const float> a, MatrixView<const float> b, float beta,
             MatrixView<float> c) {
  check_gemm_nt_args(a, b, c);
  COHORT_CHECK(a.rows <= INT32_MAX && b.rows <= INT32_MAX && a.cols <= INT32_MAX && a.ld <= INT32_MAX &&
                   b.ld <= INT32_MAX && c.ld <= INT32_MAX,
               "gemm_nt: a dimension exceeds cuBLAS's int range");
  if (c.rows == 0 || c.cols == 0) return;
  if (a.cols == 0) {
    scale_kernel<<<grid_for(ctx, c.rows * c.cols, 256), 256, 0, ctx.stream()>>>(beta, c.data, c.rows, c.cols, c.ld);
    COHORT_CUDA_CHECK_LAUNCH();
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
  row_sq_norms_kernel<<<grid_for(ctx, x.rows * 32, 256), 256, 0, ctx.stream()>>>(x.data, x.rows, x.cols, x.ld, out);
  COHORT_CUDA_CHECK_LAUNCH();
}

void normalize_rows(DeviceContext& ctx, MatrixView<float> x) {
  check_normalize_rows_args(x);
  if (x.rows == 0 || x.cols == 0) return;
  normalize_rows_kernel<<<grid_for(ctx, x.rows * 32, 256), 256, 0, ctx.stream()>>>(x.data, x.rows, x.cols, x.ld);
  COHORT_CUDA_CHECK_LAUNCH();
}

}  // namespace cohort::cuda
