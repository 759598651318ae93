// Alternating least squares on the GPU (Hu, Koren, Volinsky 2008; Takacs et al. 2011 for CG).
// Each row u solves
//   A_u x_u = b_u,  A_u = [Y^T Y] + reg I + sum_i w_ui y_i y_i^T,  b_u = sum_i v_ui y_i,
// with w = c - 1 and v = c for implicit confidences, w = 1 and v = r for explicit ratings
// (no Gram term). One block per row: Cholesky forms A_u (in shared memory when f x f fits,
// else in a global slice per block) and factors it in place; CG applies A_u without forming it.
#include <algorithm>
#include <cmath>

#include "kernels/backend_checks.hpp"
#include "kernels/cuda/cuda_ops.cuh"
#include "kernels/cuda/device_util.cuh"

namespace cohort::cuda {
namespace {

constexpr int kCholeskyThreads = 256;
constexpr int kRankChunk = 32;  // entries staged in shared memory per rank update
constexpr int64_t kCholeskyScratchBytes = int64_t{512} << 20;
constexpr float kPivotRelativeFloor = 1e-7f;  // a pivot below this share of its diagonal: not positive definite
constexpr float kCgRelativeTolerance = 1e-10f;
constexpr int kBadIndex = 1;

struct SolveArgs {
  CsrView rows;
  const float* y;
  int64_t y_ld;
  int64_t y_rows;
  const float* gram;  // null for explicit ratings
  float reg;
  bool implicit;
  int f;
  float* x;
  int64_t x_ld;
};

__device__ inline float entry_weight(const SolveArgs& s, float v) { return s.implicit ? v - 1.0f : 1.0f; }

// Block-wide float sum over blockDim.x threads (a multiple of 32); `warp_part` holds 32 floats.
__device__ float block_sum(float v, float* warp_part) {
  v = warp_sum(v);
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x / 32;
  if (lane == 0) warp_part[warp] = v;
  __syncthreads();
  float total = 0.0f;
  const int warps = blockDim.x / 32;
  for (int w = 0; w < warps; ++w) total += warp_part[w];
  __syncthreads();
  return total;
}

// Shared layout: [A: f*f when in shared] b[f] diag0[f] ys[kRankChunk*f] w[kRankChunk] v[kRankChunk].
__global__ void __launch_bounds__(kCholeskyThreads)
    als_cholesky_kernel(SolveArgs s, float* global_a, int* flag, unsigned long long* failed_row) {
  extern __shared__ float shared[];
  const int f = s.f;
  float* a = global_a != nullptr ? global_a + static_cast<int64_t>(blockIdx.x) * f * f : shared;
  float* b = (global_a != nullptr ? shared : shared + f * f);
  float* diag0 = b + f;
  float* ys = diag0 + f;
  float* w = ys + kRankChunk * f;
  float* v = w + kRankChunk;
  const int tid = threadIdx.x;
  const int ff = f * f;

  for (int64_t u = blockIdx.x; u < s.rows.rows; u += gridDim.x) {
    const int64_t begin = s.rows.indptr[u];
    const int64_t end = s.rows.indptr[u + 1];
    float* xu = s.x + u * s.x_ld;
    if (begin >= end) {
      for (int d = tid; d < f; d += blockDim.x) xu[d] = 0.0f;
      continue;
    }
    // Lower triangle (q <= p) of A = gram + reg I.
    for (int e = tid; e < ff; e += blockDim.x) {
      const int p = e / f;
      const int q = e - p * f;
      if (q <= p) a[e] = (s.gram != nullptr ? s.gram[e] : 0.0f) + (p == q ? s.reg : 0.0f);
    }
    for (int d = tid; d < f; d += blockDim.x) b[d] = 0.0f;
    __syncthreads();
    for (int64_t c0 = begin; c0 < end; c0 += kRankChunk) {
      const int n = static_cast<int>(min(static_cast<int64_t>(kRankChunk), end - c0));
      for (int e = tid; e < n * f; e += blockDim.x) {
        const int t = e / f;
        const int d = e - t * f;
        const int32_t i = s.rows.indices[c0 + t];
        const bool ok = i >= 0 && i < s.y_rows;
        if (!ok && d == 0) atomicOr(flag, kBadIndex);
        ys[e] = ok ? s.y[i * s.y_ld + d] : 0.0f;
        if (d == 0) {
          const float val = csr_value(s.rows.values, c0 + t);
          v[t] = val;
          w[t] = entry_weight(s, val);
        }
      }
      __syncthreads();
      for (int d = tid; d < f; d += blockDim.x) {
        float acc = 0.0f;
        for (int t = 0; t < n; ++t) acc += v[t] * ys[t * f + d];
        b[d] += acc;
      }
      for (int e = tid; e < ff; e += blockDim.x) {
        const int p = e / f;
        const int q = e - p * f;
        if (q > p) continue;
        float acc = 0.0f;
        for (int t = 0; t < n; ++t) acc += w[t] * ys[t * f + p] * ys[t * f + q];
        a[e] += acc;
      }
      __syncthreads();
    }
    for (int d = tid; d < f; d += blockDim.x) diag0[d] = a[d * f + d];
    __syncthreads();

    // In-place Cholesky A = L L^T (lower), column by column.
    bool ok = true;
    for (int j = 0; j < f; ++j) {
      const float pivot = a[j * f + j];
      if (!(pivot > kPivotRelativeFloor * diag0[j]) || !isfinite(pivot)) {
        ok = false;  // every thread reads the same pivot: the exit is uniform
        break;
      }
      const float ljj = sqrtf(pivot);
      __syncthreads();
      if (tid == 0) a[j * f + j] = ljj;
      for (int i = j + 1 + tid; i < f; i += blockDim.x) a[i * f + j] /= ljj;
      __syncthreads();
      const int m = f - j - 1;
      for (int e = tid; e < m * m; e += blockDim.x) {
        const int i = j + 1 + e / m;
        const int l = j + 1 + e % m;
        if (l <= i) a[i * f + l] -= a[i * f + j] * a[l * f + j];
      }
      __syncthreads();
    }
    if (!ok) {
      if (tid == 0) atomicMin(failed_row, static_cast<unsigned long long>(u));
      for (int d = tid; d < f; d += blockDim.x) xu[d] = 0.0f;
      __syncthreads();
      continue;
    }
    // L z = b, then L^T x = z, both in place in b.
    for (int j = 0; j < f; ++j) {
      const float zj = b[j] / a[j * f + j];
      __syncthreads();
      for (int i = j + 1 + tid; i < f; i += blockDim.x) b[i] -= a[i * f + j] * zj;
      if (tid == 0) b[j] = zj;
      __syncthreads();
    }
    for (int j = f - 1; j >= 0; --j) {
      const float xj = b[j] / a[j * f + j];
      __syncthreads();
      for (int i = tid; i < j; i += blockDim.x) b[i] -= a[j * f + i] * xj;
      if (tid == 0) b[j] = xj;
      __syncthreads();
    }
    for (int d = tid; d < f; d += blockDim.x) xu[d] = b[d];
    __syncthreads();
  }
}

// out = A_u v = [gram v] + reg v + sum_i w_i (y_i . v) y_i. Ends synchronised.
__device__ void apply_system(const SolveArgs& s, int64_t begin, int64_t end, const float* vin, float* out, int* flag) {
  const int f = s.f;
  for (int d = threadIdx.x; d < f; d += blockDim.x) {
    float acc = s.reg * vin[d];
    if (s.gram != nullptr) {
      for (int e = 0; e < f; ++e) acc += s.gram[e * f + d] * vin[e];  // gram is symmetric: coalesced
    }
    out[d] = acc;
  }
  __syncthreads();
  const int lane = threadIdx.x & 31;
  for (int64_t k = begin + threadIdx.x / 32; k < end; k += blockDim.x / 32) {
    const float wk = entry_weight(s, csr_value(s.rows.values, k));
    const int32_t i = s.rows.indices[k];
    if (i < 0 || i >= s.y_rows) {
      if (lane == 0) atomicOr(flag, kBadIndex);
      continue;
    }
    if (wk == 0.0f) continue;
    const float* yi = s.y + i * s.y_ld;
    float dot = 0.0f;
    for (int d = lane; d < f; d += 32) dot += yi[d] * vin[d];
    dot = warp_sum(dot) * wk;
    for (int d = lane; d < f; d += 32) atomicAdd(&out[d], dot * yi[d]);
  }
  __syncthreads();
}

// Shared layout: x r p ap b (f each), then 32 floats for reductions.
__global__ void als_cg_kernel(SolveArgs s, int steps, int* flag) {
  extern __shared__ float shared[];
  const int f = s.f;
  float* x = shared;
  float* r = x + f;
  float* p = r + f;
  float* ap = p + f;
  float* b = ap + f;
  float* part = b + f;
  const int tid = threadIdx.x;
  const int lane = tid & 31;
  for (int64_t u = blockIdx.x; u < s.rows.rows; u += gridDim.x) {
    const int64_t begin = s.rows.indptr[u];
    const int64_t end = s.rows.indptr[u + 1];
    float* xu = s.x + u * s.x_ld;
    if (begin >= end) {
      for (int d = tid; d < f; d += blockDim.x) xu[d] = 0.0f;
      continue;
    }
    for (int d = tid; d < f; d += blockDim.x) {
      x[d] = xu[d];
      b[d] = 0.0f;
    }
    __syncthreads();
    for (int64_t k = begin + tid / 32; k < end; k += blockDim.x / 32) {
      const int32_t i = s.rows.indices[k];
      if (i < 0 || i >= s.y_rows) continue;
      const float vk = csr_value(s.rows.values, k);
      const float* yi = s.y + i * s.y_ld;
      for (int d = lane; d < f; d += 32) atomicAdd(&b[d], vk * yi[d]);
    }
    __syncthreads();
    apply_system(s, begin, end, x, ap, flag);
    float rs_local = 0.0f;
    float bb_local = 0.0f;
    for (int d = tid; d < f; d += blockDim.x) {
      r[d] = b[d] - ap[d];
      p[d] = r[d];
      rs_local += r[d] * r[d];
      bb_local += b[d] * b[d];
    }
    float rs = block_sum(rs_local, part);
    const float tiny = kCgRelativeTolerance * kCgRelativeTolerance * block_sum(bb_local, part);
    for (int step = 0; step < steps && rs > tiny; ++step) {
      apply_system(s, begin, end, p, ap, flag);
      float pap_local = 0.0f;
      for (int d = tid; d < f; d += blockDim.x) pap_local += p[d] * ap[d];
      const float pap = block_sum(pap_local, part);
      if (!(pap > 0.0f)) break;
      const float alpha = rs / pap;
      float next_local = 0.0f;
      for (int d = tid; d < f; d += blockDim.x) {
        x[d] += alpha * p[d];
        r[d] -= alpha * ap[d];
        next_local += r[d] * r[d];
      }
      const float rs_next = block_sum(next_local, part);
      const float beta = rs_next / rs;
      for (int d = tid; d < f; d += blockDim.x) p[d] = r[d] + beta * p[d];
      rs = rs_next;
      __syncthreads();
    }
    for (int d = tid; d < f; d += blockDim.x) xu[d] = x[d];
    __syncthreads();
  }
}

// Per row: implicit  x^T G x + sum_{i in u} [c (1 - s_i)^2 - s_i^2]  (s_i = x_u . y_i), i.e. the
// all-items sum of s_i^2 with each stored entry's term replaced; explicit  sum (r - s_i)^2.
__global__ void als_loss_kernel(CsrView rows, const float* x, int64_t x_ld, const float* y, int64_t y_ld,
                                int64_t y_rows, const float* gram, int f, bool implicit, double* row_loss,
                                int* flag) {
  __shared__ double part[256];
  const int tid = threadIdx.x;
  const int lane = tid & 31;
  for (int64_t u = blockIdx.x; u < rows.rows; u += gridDim.x) {
    const float* xu = x + u * x_ld;
    double local = 0.0;
    if (implicit) {
      for (int d = tid; d < f; d += blockDim.x) {
        float g = 0.0f;
        for (int e = 0; e < f; ++e) g += gram[e * f + d] * xu[e];
        local += static_cast<double>(xu[d]) * g;
      }
    }
    for (int64_t k = rows.indptr[u] + tid / 32; k < rows.indptr[u + 1]; k += blockDim.x / 32) {
      const int32_t i = rows.indices[k];
      if (i < 0 || i >= y_rows) {
        if (lane == 0) atomicOr(flag, kBadIndex);
        continue;
      }
      const float* yi = y + i * y_ld;
      float dot = 0.0f;
      for (int d = lane; d < f; d += 32) dot += yi[d] * xu[d];
      const double si = warp_sum(dot);
      const double c = csr_value(rows.values, k);
      if (lane == 0) local += implicit ? c * (1.0 - si) * (1.0 - si) - si * si : (c - si) * (c - si);
    }
    const double total = block_sum_double(local, part);
    if (tid == 0) row_loss[u] = total;
  }
}

// One block, fixed order: out = sum of values.
__global__ void ordered_sum_kernel(const double* values, int64_t n, double* out) {
  __shared__ double part[256];
  double local = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) local += values[i];
  const double total = block_sum_double(local, part);
  if (threadIdx.x == 0) *out = total;
}

}  // namespace

void gram(DeviceContext& ctx, MatrixView<const float> y, float* out) {
  check_gram_args(y, out);
  const int64_t f = y.cols;
  if (f == 0) return;
  COHORT_CHECK(f <= INT32_MAX && y.rows <= INT32_MAX && y.ld <= INT32_MAX, "gram: y is too large for cuBLAS");
  if (y.rows == 0) {
    COHORT_CUDA_CHECK(cudaMemsetAsync(out, 0, static_cast<size_t>(f * f) * sizeof(float), ctx.stream()));
    return;
  }
  // Row-major y (n x f) read column-major is M = y^T (f x n); out = M M^T (symmetric, so the
  // column-major result is also the row-major one).
  const float one = 1.0f;
  const float zero = 0.0f;
  const int fi = static_cast<int>(f);
  COHORT_CUBLAS_CHECK(cublasSgemm(ctx.cublas(), CUBLAS_OP_N, CUBLAS_OP_T, fi, fi, static_cast<int>(y.rows), &one,
                                  y.data, static_cast<int>(y.ld), y.data, static_cast<int>(y.ld), &zero, out, fi));
}

void als_solve(DeviceContext& ctx, CsrView rows, MatrixView<const float> y, const float* gram, float reg, AlsMode mode,
               SolverKind solver, int cg_steps, MatrixView<float> x) {
  check_als_solve_args(rows, y, gram, reg, mode, solver, cg_steps, x);
  const int64_t f = y.cols;
  COHORT_CHECK(f <= 4096, "als_solve: factors must be in [1, 4096] on the GPU, got {}", f);
  const bool implicit = mode == AlsMode::implicit;
  if (rows.rows == 0) return;

  const SolveArgs args{rows, y.data, y.ld, y.rows, implicit ? gram : nullptr, reg, implicit, static_cast<int>(f),
                       x.data, x.ld};
  DeviceFlag flag(ctx);
  const int64_t optin = static_cast<int64_t>(ctx.properties().sharedMemPerBlockOptin);
  if (solver == SolverKind::cholesky) {
    DeviceScratch<unsigned long long> failed(ctx, 1);
    COHORT_CUDA_CHECK(cudaMemsetAsync(failed.data(), 0xff, sizeof(unsigned long long), ctx.stream()));
    const int64_t small_bytes = (2 * f + kRankChunk * f + 2 * kRankChunk) * static_cast<int64_t>(sizeof(float));
    const int64_t a_bytes = f * f * static_cast<int64_t>(sizeof(float));
    const bool a_shared = small_bytes + a_bytes <= optin;
    const int64_t shared_bytes = a_shared ? small_bytes + a_bytes : small_bytes;
    COHORT_CHECK(shared_bytes <= optin, "als_solve: f = {} needs more shared memory than the device has", f);
    int64_t grid = std::min<int64_t>(rows.rows, int64_t{1} << 20);
    if (!a_shared) grid = std::max<int64_t>(1, std::min(grid, kCholeskyScratchBytes / a_bytes));
    DeviceScratch<float> global_a(ctx, a_shared ? 0 : grid * f * f);
    COHORT_CUDA_CHECK(cudaFuncSetAttribute(als_cholesky_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(shared_bytes)));
    als_cholesky_kernel<<<static_cast<unsigned>(grid), kCholeskyThreads, static_cast<size_t>(shared_bytes),
                          ctx.stream()>>>(args, global_a.data(), flag.data(), failed.data());
    COHORT_CUDA_CHECK_LAUNCH();
    unsigned long long failed_row = 0;
    COHORT_CUDA_CHECK(
        cudaMemcpyAsync(&failed_row, failed.data(), sizeof(failed_row), cudaMemcpyDeviceToHost, ctx.stream()));
    COHORT_CHECK_STATUS(flag.read() == 0, Status::bad_input, "als_solve: a column index of rows is out of range");
    COHORT_CHECK(failed_row == ~0ull,
                 "als_solve: the normal equations of row {} are not positive definite (reg = {}); use reg > 0",
                 failed_row, reg);
    return;
  }
  const int threads = static_cast<int>(std::clamp<int64_t>((f + 31) / 32 * 32, 64, 256));
  const int64_t shared_bytes = (5 * f + 32) * static_cast<int64_t>(sizeof(float));
  COHORT_CHECK(shared_bytes <= optin, "als_solve: f = {} needs more shared memory than the device has", f);
  COHORT_CUDA_CHECK(
      cudaFuncSetAttribute(als_cg_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared_bytes)));
  const unsigned grid = static_cast<unsigned>(std::min<int64_t>(rows.rows, int64_t{1} << 20));
  als_cg_kernel<<<grid, threads, static_cast<size_t>(shared_bytes), ctx.stream()>>>(args, cg_steps, flag.data());
  COHORT_CUDA_CHECK_LAUNCH();
  COHORT_CHECK_STATUS(flag.read() == 0, Status::bad_input, "als_solve: a column index of rows is out of range");
}

double als_loss(DeviceContext& ctx, CsrView rows, MatrixView<const float> x, MatrixView<const float> y,
                const float* gram, AlsMode mode) {
  check_als_loss_args(rows, x, y, gram, mode);
  const int64_t f = y.cols;
  const bool implicit = mode == AlsMode::implicit;
  if (rows.rows == 0) return 0.0;
  DeviceScratch<double> row_loss(ctx, rows.rows);
  DeviceScratch<double> total(ctx, 1);
  DeviceFlag flag(ctx);
  const unsigned grid = static_cast<unsigned>(std::min<int64_t>(rows.rows, int64_t{1} << 20));
  als_loss_kernel<<<grid, 256, 0, ctx.stream()>>>(rows, x.data, x.ld, y.data, y.ld, y.rows, gram,
                                                  static_cast<int>(f), implicit, row_loss.data(), flag.data());
  COHORT_CUDA_CHECK_LAUNCH();
  ordered_sum_kernel<<<1, 256, 0, ctx.stream()>>>(row_loss.data(), rows.rows, total.data());
  COHORT_CUDA_CHECK_LAUNCH();
  double host = 0.0;
  COHORT_CUDA_CHECK(cudaMemcpyAsync(&host, total.data(), sizeof(double), cudaMemcpyDeviceToHost, ctx.stream()));
  COHORT_CHECK_STATUS(flag.read() == 0, Status::bad_input, "als_loss: a column index of rows is out of range");
  return host;
}

}  // namespace cohort::cuda
