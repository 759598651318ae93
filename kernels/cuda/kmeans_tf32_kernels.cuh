// k-means assignment with the distance GEMM on TF32 tensor cores, and labels kept FP32's.
// Launched by kmeans.cu when the backend was made with tf32 on (plain TF32) or with
// COHORT_KMEANS_ASSIGN=split (split TF32, below); tested on the CPU emulation
// (tests/kernels/backend_diff_gpu_test.cpp, whose emulated cuBLAS truncates to TF32).
//
// TF32 keeps 10 of FP32's 23 mantissa bits, so each input is off by less than 2^-10 of itself
// (truncated; 2^-11 rounded) and each product x_k c_k by less than 2^-9 of |x_k c_k|. The
// distance |x|^2 - 2 x.c + |c|^2 (norms in FP32) is then off by at most
//   e(x, c) = (2^-8 + d 2^-22) |x| |c|,
// the second term covering the FP32 accumulation of d products (truncating, as tensor cores
// add, at worst).
//
// Split TF32 writes each input v as hi + lo, hi = v truncated to TF32 and lo = (v - hi), exact
// in FP32 and under 2^-10 |v|, truncated to TF32 too (off by under 2^-20 |v|); one GEMM over
// 3d columns, x as [hi | hi | lo] and c as [hi | lo | hi], adds hi.hi + hi.lo + lo.hi, all
// products exact, so each term misses at most 3 2^-20 |x_k c_k| (lo.lo and the two truncations):
//   e(x, c) = (6 2^-20 + 3d 2^-22) |x| |c|,
// some 100 times tighter than plain TF32 for three times its products, so that few pairs are
// left to the recheck (plain TF32 lists 6% of the sweep's on uniform random data).
//
// If, for a row and a problem,
// every other centroid j has d~_j - e_j > d~_best + e_best (d~ the TF32 distances), the TF32
// nearest is the exact nearest. The argmin kernel flags the (problem, row) pairs where that
// fails, and a warp per flagged pair recomputes in FP32 the distances of the candidates (the
// centroids whose lower bound d~_j - e_j reaches d~_best + e_best) to pick the label. Labels
// therefore differ from the FP32 path's only where FP32 itself ties; the best distance of a
// flagged pair is FP32, the other distances carry the TF32 error above.
#pragma once

#include <cstdint>

#include "kernels/cuda/device_functions.cuh"

COHORT_CUDA_NAMESPACE_BEGIN

// The bound on the FP32 accumulation of `terms` exact products, in the distance (twice the dot
// product), over |x| |c|.
inline float tf32_accumulation_error(int64_t terms) { return static_cast<float>(terms) / 4194304.0f; }

// e(x, c) / (|x| |c|) for rows of d dimensions, plain TF32.
inline float tf32_distance_error(int64_t d) { return 1.0f / 256.0f + tf32_accumulation_error(d); }

// e(x, c) / (|x| |c|) for rows of d dimensions, split TF32.
inline float split_tf32_distance_error(int64_t d) { return 6.0f / 1048576.0f + tf32_accumulation_error(3 * d); }

// Where the argmin kernel lists the pairs it cannot decide.
struct Tf32Check {
  const float* c_norm;  // |c| per global centroid
  float error;          // tf32_distance_error(d), or split_tf32_distance_error(d)
  int64_t* pairs;       // problem * n + row, `capacity` of them
  int* count;           // pairs listed in this row block (may exceed capacity)
  int64_t capacity;
  int* overflow;        // set when a block listed more than capacity: the caller redoes it in FP32
};

// Lists a (problem, row) pair for the FP32 pass, or flags the overflow when the list is full.
__device__ inline void list_pair(const Tf32Check& check, int64_t out) {
  const int slot = atomicAdd(check.count, 1);
  if (slot < check.capacity) {
    check.pairs[slot] = out;
  } else {
    *check.overflow = 1;
  }
}

// How many pairs the check listed (those past its capacity were not kept).
__device__ inline int64_t listed_pairs(const Tf32Check& check) {
  return min(static_cast<int64_t>(*check.count), check.capacity);
}

// Listed pair number s: its output index (problem * n + row), problem and row.
struct ListedPair {
  int64_t out;
  int64_t problem;
  int64_t row;
};
__device__ inline ListedPair listed_pair(const Tf32Check& check, int64_t s, int64_t n) {
  const int64_t out = check.pairs[s];
  return ListedPair{out, out / n, out % n};
}

// The rows of `in` (rows x d) as split TF32 parts, 3d values a row: [hi | hi | lo] for rows of
// x, [hi | lo | hi] for centroids.
__global__ void tf32_split_kernel(const float* in, int64_t rows, int64_t ld, int d, bool centroids, float* out) {
  const int64_t total = rows * d;
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < total; e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = e / d;
    const int64_t k = e - r * d;
    const float v = in[r * ld + k];
    const float hi = tf32_truncate(v);
    const float lo = tf32_truncate(v - hi);
    float* o = out + r * 3 * d;
    o[k] = hi;
    o[d + k] = centroids ? lo : hi;
    o[2 * d + k] = centroids ? hi : lo;
  }
}

__global__ void sqrt_kernel(const float* in, int64_t n, float* out) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    out[i] = sqrtf(in[i]);
}

// A warp per listed pair of this row block (dots: total_k x rows, centroid-major, = -2 c.x in
// TF32). Writes the pair's label, FP32 best distance and second distance (the nearer of the
// FP32 candidates' and the TF32 others').
__global__ void tf32_recheck_kernel(const float* dots, int64_t rows, int64_t row0, const float* x, int64_t ld, int d,
                                    const float* x_sq, const float* centroids, int64_t c_ld, const float* c_sq,
                                    const int64_t* k_offsets, int64_t n, Tf32Check check, int32_t* labels,
                                    float* best_dist, float* second_dist) {
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int64_t warps = int64_t{gridDim.x} * (blockDim.x / 32);
  for (int64_t s = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / 32; s < listed_pairs(check); s += warps) {
    const auto [out, b, row] = listed_pair(check, s, n);
    const int64_t i = row - row0;
    const int64_t lo = k_offsets[b];
    const int64_t hi = k_offsets[b + 1];
    const float xs = x_sq[row];
    const float x_norm = sqrtf(xs);

    // The TF32 nearest (lowest index on ties) and its upper bound.
    float best = INFINITY;
    int best_c = static_cast<int>(hi);
    for (int c = static_cast<int>(lo) + lane; c < hi; c += 32) {
      const float dist = fmaxf(0.0f, xs + dots[c * rows + i] + c_sq[c]);
      if (dist < best) {
        best = dist;
        best_c = c;
      }
    }
    for (int o = 16; o > 0; o >>= 1) {
      const float other = __shfl_xor_sync(0xffffffffu, best, o);
      const int other_c = __shfl_xor_sync(0xffffffffu, best_c, o);
      if (other < best || (other == best && other_c < best_c)) {
        best = other;
        best_c = other_c;
      }
    }
    const float upper = best + check.error * x_norm * check.c_norm[best_c];

    // The candidates in FP32, in centroid order; the others' TF32 distances for the second.
    TwoLowest exact = two_lowest();  // global centroid indices
    float others = INFINITY;
    for (int64_t base = lo; base < hi; base += 32) {
      const int64_t c = base + lane;
      bool candidate = false;
      if (c < hi) {
        const float dist = fmaxf(0.0f, xs + dots[c * rows + i] + c_sq[c]);
        candidate = dist - check.error * x_norm * check.c_norm[c] <= upper;
        if (!candidate) others = fminf(others, dist);
      }
      unsigned mask = __ballot_sync(0xffffffffu, candidate);
      while (mask != 0) {
        const int j = __ffs(static_cast<int>(mask)) - 1;
        mask &= mask - 1;
        const int cc = static_cast<int>(base) + j;
        float dot = 0.0f;
        for (int k = lane; k < d; k += 32) dot = fmaf(x[row * ld + k], centroids[cc * c_ld + k], dot);
        dot = warp_sum(dot);  // the same value in every lane
        offer(exact, fmaxf(0.0f, xs + -2.0f * dot + c_sq[cc]), cc);
      }
    }
    for (int o = 16; o > 0; o >>= 1) others = fminf(others, __shfl_xor_sync(0xffffffffu, others, o));
    if (lane == 0) {
      labels[out] = exact.index >= 0 ? static_cast<int32_t>(exact.index - lo) : 0;
      best_dist[out] = exact.best;
      if (second_dist != nullptr) second_dist[out] = fminf(exact.second, others);
    }
  }
}

COHORT_CUDA_NAMESPACE_END
