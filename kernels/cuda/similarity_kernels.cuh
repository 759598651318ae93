// The kernels of sparse top-k cosine neighbours; launched by similarity.cu, tested on the CPU
// emulation (tests/kernels/similarity_kernels_emulated_test.cpp). One block per output row i.
//
// <a_i, a_j> is non-zero only for rows j sharing a column with i; they are found through the
// transpose (for each column c of a_i, the rows of a_t(c)). The block's warps take a_i's
// columns, the lanes walk a_t(c), and the products are accumulated per j:
//   - in a shared-memory hash table (open addressing) when the row has few products;
//   - otherwise in a dense array of a.rows accumulators: in shared memory when a.rows fits,
//     else in a global-memory slice owned by the block, with a list of the entries touched
//     so that the scan and the reset cost the work done, not a.rows.
// Scores are normalised by the precomputed row norms and selected by block_topk.
#pragma once

#include <cstdint>

#include "kernels/cuda/device_functions.cuh"
#include "kernels/views.hpp"

COHORT_CUDA_NAMESPACE_BEGIN

constexpr int kHashSlots = 2048;              // power of two
constexpr int kHashMaxKeys = kHashSlots / 2;  // load factor <= 1/2
constexpr int kCosineBadIndex = 1;

__global__ void csr_row_norms_kernel(CsrView a, float* norm) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t{gridDim.x} * (blockDim.x / 32);
  for (int64_t i = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / 32; i < a.rows; i += warps) {
    float s = 0.0f;
    for (int64_t p = a.indptr[i] + lane; p < a.indptr[i + 1]; p += 32) {
      const float v = csr_value(a.values, p);
      s += v * v;
    }
    s = warp_sum(s);
    if (lane == 0) norm[i] = sqrtf(s);
  }
}

// Number of products of row i (an upper bound on its distinct neighbours). Block-wide.
__device__ inline int64_t row_products(const CsrView& a, const CsrView& a_t, int64_t i, unsigned long long* shared_sum) {
  if (threadIdx.x == 0) *shared_sum = 0;
  __syncthreads();
  unsigned long long local = 0;
  for (int64_t p = a.indptr[i] + threadIdx.x; p < a.indptr[i + 1]; p += blockDim.x) {
    const int32_t c = a.indices[p];
    if (c >= 0 && c < a_t.rows) local += static_cast<unsigned long long>(a_t.indptr[c + 1] - a_t.indptr[c]);
  }
  atomicAdd(shared_sum, local);
  __syncthreads();
  const int64_t total = static_cast<int64_t>(*shared_sum);
  __syncthreads();
  return total;
}

// Calls add(j, a_ic * a_t(c, j)) for every product of row i (skipping j == i when asked).
template <class Add>
__device__ void walk_products(const CsrView& a, const CsrView& a_t, int64_t i, bool exclude_self, int* flag, Add add) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x / 32;
  const int warps = blockDim.x / 32;
  for (int64_t p = a.indptr[i] + warp; p < a.indptr[i + 1]; p += warps) {
    const int32_t c = a.indices[p];
    if (c < 0 || c >= a_t.rows) {
      if (lane == 0) atomicOr(flag, kCosineBadIndex);
      continue;
    }
    const float v = csr_value(a.values, p);
    for (int64_t q = a_t.indptr[c] + lane; q < a_t.indptr[c + 1]; q += 32) {
      const int32_t j = a_t.indices[q];
      if (j < 0 || j >= a.rows) {
        atomicOr(flag, kCosineBadIndex);
        continue;
      }
      if (exclude_self && j == i) continue;
      add(j, v * csr_value(a_t.values, q));
    }
  }
}

__device__ inline bool uses_hash(int64_t products, int64_t rows) { return (products < rows ? products : rows) <= kHashMaxKeys; }

__global__ void __launch_bounds__(kTopkThreads)
    topk_cosine_hash_kernel(CsrView a, CsrView a_t, const float* norm, int64_t row_begin, int64_t out_rows, int k,
                            bool exclude_self, int32_t* out_index, float* out_score, int* flag) {
  __shared__ int keys[kHashSlots];
  __shared__ float vals[kHashSlots];
  __shared__ TopkShared top;
  __shared__ unsigned long long products_sum;
  for (int64_t r = blockIdx.x; r < out_rows; r += gridDim.x) {
    const int64_t i = row_begin + r;
    if (!uses_hash(row_products(a, a_t, i, &products_sum), a.rows)) continue;
    for (int s = threadIdx.x; s < kHashSlots; s += blockDim.x) {
      keys[s] = -1;
      vals[s] = 0.0f;
    }
    __syncthreads();
    walk_products(a, a_t, i, exclude_self, flag, [&](int32_t j, float v) {
      unsigned h = (static_cast<unsigned>(j) * 2654435761u) & (kHashSlots - 1);
      while (true) {
        const int prev = atomicCAS(&keys[h], -1, j);
        if (prev == -1 || prev == j) {
          atomicAdd(&vals[h], v);
          return;
        }
        h = (h + 1) & (kHashSlots - 1);
      }
    });
    __syncthreads();
    const float ni = norm[i];
    block_topk(
        top, kHashSlots, k,
        [&](int64_t s, float* score, int32_t* index) {
          const int j = keys[s];
          if (j < 0) return false;
          *score = vals[s] / (ni * norm[j]);
          *index = j;
          return *score > 0.0f;
        },
        out_index + r * k, out_score + r * k);
  }
}

// kShared: acc is dynamic shared memory of a.rows floats and every j is scanned; otherwise
// the block owns acc/mark/list slices of a.rows entries in global memory (zero on entry and
// left zero on exit) and scans the touched list.
template <bool kShared>
__global__ void __launch_bounds__(kTopkThreads)
    topk_cosine_dense_kernel(CsrView a, CsrView a_t, const float* norm, int64_t row_begin, int64_t out_rows, int k,
                             bool exclude_self, int32_t* out_index, float* out_score, int* flag, float* global_acc,
                             int* global_mark, int32_t* global_list) {
  COHORT_DYNAMIC_SHARED(float, shared_acc);
  __shared__ TopkShared top;
  __shared__ unsigned long long products_sum;
  __shared__ int touched;
  float* acc = kShared ? shared_acc : global_acc + blockIdx.x * a.rows;
  int* mark = kShared ? nullptr : global_mark + blockIdx.x * a.rows;
  int32_t* list = kShared ? nullptr : global_list + blockIdx.x * a.rows;
  for (int64_t r = blockIdx.x; r < out_rows; r += gridDim.x) {
    const int64_t i = row_begin + r;
    if (uses_hash(row_products(a, a_t, i, &products_sum), a.rows)) continue;
    if (kShared) {
      for (int64_t j = threadIdx.x; j < a.rows; j += blockDim.x) acc[j] = 0.0f;
    }
    if (threadIdx.x == 0) touched = 0;
    __syncthreads();
    walk_products(a, a_t, i, exclude_self, flag, [&](int32_t j, float v) {
      if (!kShared && atomicExch(&mark[j], 1) == 0) list[atomicAdd(&touched, 1)] = j;
      atomicAdd(&acc[j], v);
    });
    __syncthreads();
    const float ni = norm[i];
    block_topk(
        top, kShared ? a.rows : touched, k,
        [&](int64_t c, float* score, int32_t* index) {
          const int32_t j = kShared ? static_cast<int32_t>(c) : list[c];
          const float dot = acc[j];
          if (dot == 0.0f) return false;
          *score = dot / (ni * norm[j]);
          *index = j;
          return *score > 0.0f;
        },
        out_index + r * k, out_score + r * k);
    if (!kShared) {
      for (int c = threadIdx.x; c < touched; c += blockDim.x) {
        const int32_t j = list[c];
        acc[j] = 0.0f;
        mark[j] = 0;
      }
      __syncthreads();
    }
  }
}

COHORT_CUDA_NAMESPACE_END
