// The BPR kernel (Rendle et al. 2009): one warp per sample, Hogwild updates. Sample s draws
// from its own counter-based stream, splitmix64 keyed by (seed, s), so the draws do not depend
// on the launch shape; only the interleaving of updates does. Launched by bpr.cu, tested on
// the CPU emulation (tests/kernels/bpr_kernels_emulated_test.cpp).
#pragma once

#include <cstdint>

#include "kernels/cuda/device_functions.cuh"
#include "kernels/views.hpp"

COHORT_CUDA_NAMESPACE_BEGIN

constexpr uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ull;

// The splitmix64 finaliser (Steele, Lea, Flood 2014).
__device__ inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

struct SampleRng {
  uint64_t state;
  __device__ SampleRng(uint64_t seed, uint64_t sample) : state(mix64(seed ^ mix64((sample + 1) * kGoldenGamma))) {}
  __device__ uint64_t next() { return mix64(state += kGoldenGamma); }
  // Uniform in [0, n) by the multiply-shift map.
  __device__ int64_t below(int64_t n) { return static_cast<int64_t>(__umul64hi(next(), static_cast<uint64_t>(n))); }
};

struct Counters {
  unsigned long long correct;
  unsigned long long skipped;
};

__global__ void bpr_kernel(CsrView ui, float* users, int64_t users_ld, float* items, int64_t items_ld, int f,
                           float lr, float reg, int64_t samples, uint64_t seed, Counters* counters) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t{gridDim.x} * (blockDim.x / 32);
  unsigned long long correct = 0;
  unsigned long long skipped = 0;
  for (int64_t s = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / 32; s < samples; s += warps) {
    // Every lane draws the same numbers: no broadcast needed.
    SampleRng rng(seed, static_cast<uint64_t>(s));
    const int64_t k = rng.below(ui.nnz);
    // u: the row with indptr[u] <= k < indptr[u + 1].
    int64_t lo = 0;
    int64_t hi = ui.rows;
    while (hi - lo > 1) {
      const int64_t mid = (lo + hi) / 2;
      if (ui.indptr[mid] <= k) lo = mid; else hi = mid;
    }
    const int64_t u = lo;
    const int32_t i = ui.indices[k];
    const int32_t j = static_cast<int32_t>(rng.below(ui.cols));
    int64_t a = ui.indptr[u];
    int64_t b = ui.indptr[u + 1];
    while (a < b) {
      const int64_t mid = (a + b) / 2;
      if (ui.indices[mid] < j) a = mid + 1; else b = mid;
    }
    if (a < ui.indptr[u + 1] && ui.indices[a] == j) {
      if (lane == 0) ++skipped;
      continue;
    }
    if (i < 0 || i >= ui.cols) continue;
    float* xu = users + u * users_ld;
    float* yi = items + static_cast<int64_t>(i) * items_ld;
    float* yj = items + static_cast<int64_t>(j) * items_ld;
    float x = 0.0f;
    for (int q = lane; q < f; q += 32) x += xu[q] * (yi[q] - yj[q]);
    x = warp_sum(x);
    if (lane == 0 && x > 0.0f) ++correct;
    // d/dx ln sigmoid(x) = 1 / (1 + e^x).
    const float z = 1.0f / (1.0f + expf(x));
    for (int q = lane; q < f; q += 32) {
      const float av = xu[q];
      const float bi = yi[q];
      const float bj = yj[q];
      xu[q] = av + lr * (z * (bi - bj) - reg * av);
      yi[q] = bi + lr * (z * av - reg * bi);
      yj[q] = bj + lr * (-z * av - reg * bj);
    }
  }
  if (correct > 0) atomicAdd(&counters->correct, correct);
  if (skipped > 0) atomicAdd(&counters->skipped, skipped);
}

COHORT_CUDA_NAMESPACE_END
