// Device-side helpers shared by the CUDA kernel families (CSR values, warp and block sums, the
// block-wide top-k behind every ranked output), and the dialect switch: compiled by nvcc for
// the GPU, or by a host compiler over the CPU emulation (cpu_emulation.hpp) when
// COHORT_CUDA_EMULATION is defined, so the kernels written in *_kernels.cuh headers can be
// tested without a GPU. Nothing here may touch the CUDA runtime API.
#pragma once

#ifdef COHORT_CUDA_EMULATION
#include "kernels/cuda/cpu_emulation.hpp"
// COHORT_DEVICE_ASSERT(cond): an invariant of a kernel, checked under the emulation (it aborts
// naming the condition and the line) and compiled out on the GPU, where it would cost a branch
// in hot loops. For what the emulation cannot see otherwise, such as an index past a shared
// array.
#define COHORT_DEVICE_ASSERT(cond)                                                                   \
  do {                                                                                               \
    if (!(cond)) {                                                                                   \
      std::fprintf(stderr, "cuda emulation: device assertion `%s` failed at %s:%d\n", #cond, __FILE__, \
                   __LINE__);                                                                        \
      std::abort();                                                                                  \
    }                                                                                                \
  } while (0)
// The block's dynamic shared memory as a T*.
#define COHORT_DYNAMIC_SHARED(T, name) T* name = reinterpret_cast<T*>(::cohort::cuda_emulation::dynamic_shared())
#define COHORT_UNROLL
#else
#include <cuda_runtime.h>
#define COHORT_DYNAMIC_SHARED(T, name)                                  \
  extern __shared__ __align__(16) unsigned char cohort_dynamic_shared[]; \
  T* name = reinterpret_cast<T*>(cohort_dynamic_shared)
#define COHORT_UNROLL _Pragma("unroll")
#define COHORT_DEVICE_ASSERT(cond) \
  do {                             \
  } while (0)
#endif

#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>

#include "kernels/cuda/cuda_namespace.hpp"


COHORT_CUDA_NAMESPACE_BEGIN

__device__ inline float csr_value(const float* values, int64_t p) { return values != nullptr ? values[p] : 1.0f; }

// The lowest and second-lowest of values offered in index order. Strict < keeps the earlier
// index on a tie, and the tie's value still becomes the second.
struct TwoLowest {
  float best;
  float second;
  int32_t index;  // of best; -1 while nothing below +inf was offered
};
__device__ inline TwoLowest two_lowest() { return TwoLowest{INFINITY, INFINITY, -1}; }
__device__ inline void offer(TwoLowest& t, float value, int32_t index) {
  if (value < t.best) {
    t.second = t.best;
    t.best = value;
    t.index = index;
  } else if (value < t.second) {
    t.second = value;
  }
}
// Folds b into a, the two taken over disjoint sets of indices (lanes of a warp, say): the lower
// value wins and, on a tie, the lower index (-1, nothing offered, loses); the same result in
// whichever order two lanes merge.
__device__ inline void merge_two_lowest(TwoLowest& a, const TwoLowest& b) {
  const bool b_first =
      b.best < a.best || (b.best == a.best && static_cast<uint32_t>(b.index) < static_cast<uint32_t>(a.index));
  if (b_first) {
    a.second = fminf(a.best, b.second);
    a.best = b.best;
    a.index = b.index;
  } else {
    a.second = fminf(a.second, b.best);
  }
}

// v with the 13 low mantissa bits cleared: the TF32 value tensor cores read, exactly.
__device__ __forceinline__ float tf32_truncate(float v) {
#ifdef COHORT_CUDA_EMULATION
  return cohort_emulated_tf32(v);
#else
  return __uint_as_float(__float_as_uint(v) & 0xFFFFE000u);
#endif
}

// The ranking order of every top-k output: descending score, ties by ascending index.
__device__ inline bool ranks_before(float sa, int32_t ia, float sb, int32_t ib) {
  return sa > sb || (sa == sb && ia < ib);
}

// Block-wide double sum; the order of additions is fixed by the block shape (deterministic).
// `shared` holds blockDim.x doubles. Every thread gets the total.
__device__ inline double block_sum_double(double v, double* shared) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) shared[threadIdx.x] += shared[threadIdx.x + s];
    __syncthreads();
  }
  double total = shared[0];
  __syncthreads();
  return total;
}

// D += A B for one 16 x 8 x 8 tile on the TF32 tensor cores (PTX mma.sync m16n8k8, sm_80 and
// later): a warp-wide instruction, so every lane of the warp calls it together. The fragments
// are laid out as the PTX ISA gives them, with g = lane / 4 and t = lane % 4:
//   a = {A[g][t], A[g+8][t], A[g][t+4], A[g+8][t+4]}     (A: 16 x 8)
//   b = {B[t][g], B[t+4][g]}                             (B: 8 x 8)
//   d = {D[g][2t], D[g][2t+1], D[g+8][2t], D[g+8][2t+1]} (D: 16 x 8)
// Inputs should be TF32 values already (tf32_truncate); the products are then exact in FP32.
__device__ __forceinline__ void mma_tf32_16x8x8(float (&d)[4], const float (&a)[4], const float (&b)[2]) {
#ifdef COHORT_CUDA_EMULATION
  ::cohort::cuda_emulation::mma_tf32_16x8x8(d, a, b);
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();  // no TF32 tensor cores before sm_80; callers check the device first
#else
  asm("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(__float_as_uint(a[0])), "r"(__float_as_uint(a[1])), "r"(__float_as_uint(a[2])),
        "r"(__float_as_uint(a[3])), "r"(__float_as_uint(b[0])), "r"(__float_as_uint(b[1])));
#endif
}

// out[0..8) = src[0..8); src is 16-byte aligned (two 128-bit loads on the GPU).
__device__ __forceinline__ void load8_aligned(const float* src, float* out) {
#ifdef COHORT_CUDA_EMULATION
  COHORT_DEVICE_ASSERT(reinterpret_cast<uintptr_t>(src) % 16 == 0);
  for (int k = 0; k < 8; ++k) out[k] = src[k];
#else
  const float4 a = reinterpret_cast<const float4*>(src)[0];
  const float4 b = reinterpret_cast<const float4*>(src)[1];
  out[0] = a.x;
  out[1] = a.y;
  out[2] = a.z;
  out[3] = a.w;
  out[4] = b.x;
  out[5] = b.y;
  out[6] = b.z;
  out[7] = b.w;
#endif
}

// out[0..4) = src[0..4); src is 16-byte aligned (one 128-bit load on the GPU).
__device__ __forceinline__ void load4_aligned(const float* src, float* out) {
#ifdef COHORT_CUDA_EMULATION
  COHORT_DEVICE_ASSERT(reinterpret_cast<uintptr_t>(src) % 16 == 0);
  for (int k = 0; k < 4; ++k) out[k] = src[k];
#else
  const float4 a = *reinterpret_cast<const float4*>(src);
  out[0] = a.x;
  out[1] = a.y;
  out[2] = a.z;
  out[3] = a.w;
#endif
}

// One block of kThreads threads, fixed order: *out = the sum of values[0..count).
template <int kThreads>
__global__ void __launch_bounds__(kThreads) ordered_sum_kernel(const double* values, int64_t count, double* out) {
  __shared__ double part[kThreads];
  double local = 0.0;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) local += values[i];
  const double total = block_sum_double(local, part);
  if (threadIdx.x == 0) *out = total;
}

__device__ inline float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Top-k of one output row, selected by the whole block (blockDim.x == kTopkThreads).
//
// Candidates stream through a buffer of kTopkBuffer (score, index) pairs whose first `held`
// slots are the best seen so far, sorted. A candidate enters only if it ranks before the
// current k-th, so most are rejected by one comparison; when the buffer cannot take another
// round of candidates it is bitonic-sorted and cut back to k. A round gives each thread
// kTopkPerThread candidates, loaded together. k <= kMaxTopK, and kTopkBuffer >= kMaxTopK +
// kTopkThreads * kTopkPerThread keeps a whole round in the buffer.
constexpr int kTopkThreads = 256;
constexpr int kTopkPerThread = 4;
constexpr int kMaxTopK = 1024;
constexpr int kTopkBuffer = 2048;
static_assert(kTopkBuffer >= kMaxTopK + kTopkThreads * kTopkPerThread, "a round must fit in the buffer");

struct TopkShared {
  float score[kTopkBuffer];
  int32_t index[kTopkBuffer];
  int held;       // valid entries in the buffer
  int sorted_k;   // entries in the sorted prefix (<= k)
};

__device__ inline void topk_sort_buffer(TopkShared& t) {
  // Unused slots rank after everything: score -inf, index INT_MAX.
  for (int s = t.held + static_cast<int>(threadIdx.x); s < kTopkBuffer; s += blockDim.x) {
    t.score[s] = -INFINITY;
    t.index[s] = INT_MAX;
  }
  __syncthreads();
  for (int size = 2; size <= kTopkBuffer; size <<= 1) {
    for (int stride = size >> 1; stride > 0; stride >>= 1) {
      for (int s = threadIdx.x; s < kTopkBuffer / 2; s += blockDim.x) {
        int lo = 2 * s - (s & (stride - 1));
        int hi = lo + stride;
        bool ascending_block = (lo & size) == 0;  // this half sorts best-first
        bool swap = ascending_block ? ranks_before(t.score[hi], t.index[hi], t.score[lo], t.index[lo])
                                    : ranks_before(t.score[lo], t.index[lo], t.score[hi], t.index[hi]);
        if (swap) {
          float fs = t.score[lo];
          t.score[lo] = t.score[hi];
          t.score[hi] = fs;
          int32_t fi = t.index[lo];
          t.index[lo] = t.index[hi];
          t.index[hi] = fi;
        }
      }
      __syncthreads();
    }
  }
}

// Runs the selection over candidates c in [0, count): get(c, &score, &index) returns whether c
// is a candidate. Writes k slots to out_index/out_score (best first, -1 / 0 padding).
template <class Get>
__device__ void block_topk(TopkShared& t, int64_t count, int k, Get get, int32_t* out_index, float* out_score) {
  if (threadIdx.x == 0) {
    t.held = 0;
    t.sorted_k = 0;
  }
  __syncthreads();
  const int round = static_cast<int>(blockDim.x) * kTopkPerThread;
  for (int64_t base = 0; base < count; base += round) {
    // Every thread must take the same branch below (it holds barriers): read `held` once and
    // wait for all reads before any thread of this round appends and moves it.
    const int held_now = t.held;
    __syncthreads();
    if (held_now + round > kTopkBuffer) {
      topk_sort_buffer(t);
      if (threadIdx.x == 0) {
        t.held = t.held < k ? t.held : k;
        t.sorted_k = t.held;
      }
      __syncthreads();
    }
    // The k-th best so far is the bar to clear, once k are held.
    const bool full = t.sorted_k == k;
    const float bar_score = full ? t.score[k - 1] : 0.0f;
    const int32_t bar_index = full ? t.index[k - 1] : 0;
    float s[kTopkPerThread];
    int32_t idx[kTopkPerThread];
    bool take[kTopkPerThread];
    COHORT_UNROLL
    for (int j = 0; j < kTopkPerThread; ++j) {
      const int64_t c = base + threadIdx.x + int64_t{j} * blockDim.x;
      s[j] = 0.0f;
      idx[j] = 0;
      take[j] = c < count && get(c, &s[j], &idx[j]);
    }
    COHORT_UNROLL
    for (int j = 0; j < kTopkPerThread; ++j) {
      if (take[j] && !isnan(s[j]) && (!full || ranks_before(s[j], idx[j], bar_score, bar_index))) {
        const int slot = atomicAdd(&t.held, 1);
        COHORT_DEVICE_ASSERT(slot < kTopkBuffer);
        t.score[slot] = s[j];
        t.index[slot] = idx[j];
      }
    }
    __syncthreads();
  }
  topk_sort_buffer(t);
  const int n = t.held < k ? t.held : k;
  for (int r = threadIdx.x; r < k; r += blockDim.x) {
    out_index[r] = r < n ? t.index[r] : -1;
    out_score[r] = r < n ? t.score[r] : 0.0f;
  }
  __syncthreads();
}

COHORT_CUDA_NAMESPACE_END
