// The element-wise and per-row kernels of the dense helpers; launched by dense.cu, tested on
// the CPU through the emulation (tests/kernels/dense_kernels_emulated_test.cpp).
#pragma once

#include <cstdint>

#include "kernels/cuda/device_functions.cuh"

COHORT_CUDA_NAMESPACE_BEGIN

constexpr int kDenseThreads = 256;

__global__ void scale_kernel(float beta, float* c, int64_t rows, int64_t cols, int64_t ld) {
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < rows * cols;
       e += int64_t{gridDim.x} * blockDim.x) {
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

// dots(r, j) = sqrt(max(0, row_sq[r] + col_sq[j] + dots(r, j))), and 0 at j = r + self_offset.
// blockIdx.y strides over rows, the x dimension over columns (coalesced).
__global__ void distances_from_dots_kernel(float* dots, int64_t rows, int64_t cols, int64_t ld, const float* row_sq,
                                           const float* col_sq, int64_t self_offset) {
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    float* row = dots + r * ld;
    const float rs = row_sq[r];
    const int64_t self = r + self_offset;
    for (int64_t j = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; j < cols; j += int64_t{gridDim.x} * blockDim.x) {
      row[j] = j == self ? 0.0f : sqrtf(fmaxf(rs + col_sq[j] + row[j], 0.0f));
    }
  }
}

COHORT_CUDA_NAMESPACE_END
