// Device helpers shared by the CUDA kernel families: launch arithmetic, an error flag that
// kernels raise on bad input, and the block-wide top-k selection behind every ranked output.
#pragma once

#include <cuda_runtime.h>

#include <cfloat>
#include <climits>
#include <cstdint>

#include "kernels/cuda/device_context.cuh"
#include "kernels/views.hpp"

namespace cohort::cuda {

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Grid size for a grid-stride loop over n items: enough blocks to fill the device, no more.
inline unsigned grid_for(const DeviceContext& ctx, int64_t n, int block) {
  int64_t want = ceil_div(n, block);
  int64_t cap = static_cast<int64_t>(ctx.properties().multiProcessorCount) * 32;
  if (want < 1) want = 1;
  return static_cast<unsigned>(want < cap ? want : cap);
}

// A device word that kernels set (atomicOr of bits) when they meet bad input. check() blocks.
class DeviceFlag {
 public:
  explicit DeviceFlag(DeviceContext& ctx) : ctx_(&ctx), word_(ctx, 1) {
    COHORT_CUDA_CHECK(cudaMemsetAsync(word_.data(), 0, sizeof(int), ctx.stream()));
  }
  int* data() const { return word_.data(); }
  // The bits raised so far; waits for the stream.
  int read() {
    int host = 0;
    COHORT_CUDA_CHECK(cudaMemcpyAsync(&host, word_.data(), sizeof(int), cudaMemcpyDeviceToHost, ctx_->stream()));
    ctx_->synchronize();
    return host;
  }

 private:
  DeviceContext* ctx_;
  DeviceScratch<int> word_;
};

__device__ inline float csr_value(const float* values, int64_t p) { return values != nullptr ? values[p] : 1.0f; }

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

__device__ inline float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Top-k of one output row, selected by the whole block (blockDim.x == kTopkThreads).
//
// Candidates stream through a buffer of kTopkBuffer (score, index) pairs whose first `held`
// slots are the best seen so far, sorted. A candidate enters only if it ranks before the
// current k-th, so most are rejected by one comparison; when the buffer cannot take another
// round of kTopkThreads candidates it is bitonic-sorted and cut back to k. k <= kMaxTopK,
// and kTopkBuffer >= kMaxTopK + kTopkThreads keeps a whole round in the buffer.
constexpr int kTopkThreads = 256;
constexpr int kMaxTopK = 1024;
constexpr int kTopkBuffer = 2048;

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
  for (int64_t base = 0; base < count; base += blockDim.x) {
    // Every thread must take the same branch below (it holds barriers): read `held` once and
    // wait for all reads before any thread of this round appends and moves it.
    const int held_now = t.held;
    __syncthreads();
    if (held_now + static_cast<int>(blockDim.x) > kTopkBuffer) {
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
    int64_t c = base + threadIdx.x;
    if (c < count) {
      float s;
      int32_t idx;
      if (get(c, &s, &idx) && !isnan(s) && (!full || ranks_before(s, idx, bar_score, bar_index))) {
        int slot = atomicAdd(&t.held, 1);
        t.score[slot] = s;
        t.index[slot] = idx;
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

}  // namespace cohort::cuda
