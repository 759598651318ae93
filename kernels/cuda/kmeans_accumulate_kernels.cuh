// Batched k-means accumulation (the sort-based sums), the centroid update and the per-problem
// sums; launched by kmeans.cu, tested on the CPU emulation
// (tests/kernels/kmeans_accumulate_kernels_emulated_test.cpp).
//
// The sums gather every row of x once per problem (at 1M x 64 and the 63 problems of the
// sweep k = 2..64, 16 GB per iteration, ~5 ms on an H200). Two attempts to read x once per
// group of problems instead, sums in shared memory without atomics (sessions 3 and 4), ran at
// 37 and 22 ms on the H200: each thread's additions form one chain through shared memory.
// They were removed in session 6.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/cuda/device_functions.cuh"

COHORT_CUDA_NAMESPACE_BEGIN

constexpr int kSortBadLabel = 1;
constexpr int64_t kPieceRows = 1024;  // rows per piece of the sort-based path

// ---- the sort-based sums ----
//
// The (problem, row) pairs are keyed by (band, global centroid), band = row / band_rows, and
// radix-sorted (stable: rows stay in order within a key) by the launcher; each key's run is cut
// into pieces of kPieceRows summed in row order in double, and each centroid adds its pieces
// band by band, in order. With several problems, x is read once per problem: in bands that fit
// the L2 cache, the blocks working at any time (pieces run in key order) gather from one band,
// so the problems after the first read it from L2 instead of memory.

// key = band * total_k + global centroid of (problem b, row i); `sentinel` (bands * total_k)
// for a label out of range.
__global__ void make_keys_kernel(const int32_t* labels, const int64_t* k_offsets, int num_problems, int64_t n,
                                 int32_t total_k, int64_t band_rows, int32_t sentinel, int32_t* keys, int32_t* rows,
                                 int* flag) {
  const int64_t count = n * num_problems;
  for (int64_t p = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; p < count; p += int64_t{gridDim.x} * blockDim.x) {
    const int64_t b = p / n;
    const int64_t row = p - b * n;
    const int32_t label = labels[p];
    const int64_t k = k_offsets[b + 1] - k_offsets[b];
    if (label < 0 || label >= k) {
      atomicOr(flag, kSortBadLabel);
      keys[p] = sentinel;
    } else {
      keys[p] = static_cast<int32_t>(row / band_rows * total_k + k_offsets[b] + label);
    }
    rows[p] = static_cast<int32_t>(row);
  }
}

// start[s] = first position of a key >= s in the sorted keys, for s in [0, segments].
__global__ void run_starts_kernel(const int32_t* keys, int64_t count, int32_t segments, int64_t* start) {
  for (int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; c <= segments;
       c += int64_t{gridDim.x} * blockDim.x) {
    int64_t lo = 0;
    int64_t hi = count;
    while (lo < hi) {
      const int64_t mid = (lo + hi) / 2;
      if (keys[mid] < c) lo = mid + 1; else hi = mid;
    }
    start[c] = lo;
  }
}

// pieces[s] = the number of kPieceRows pieces of key s's run (s < segments).
__global__ void piece_counts_kernel(const int64_t* start, int32_t segments, int64_t* pieces) {
  for (int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; c < segments; c += int64_t{gridDim.x} * blockDim.x) {
    pieces[c] = (start[c + 1] - start[c] + kPieceRows - 1) / kPieceRows;
  }
}

// One block per piece: the sum, in row order and in double, of at most kPieceRows rows of one
// key's run. piece_offset (segments + 1) is the exclusive scan of the piece counts.
__global__ void piece_sums_kernel(const float* x, int64_t ld, int64_t d, const int32_t* sorted_rows,
                                  const int64_t* start, const int64_t* piece_offset, int32_t segments,
                                  int64_t max_pieces, double* piece_sums) {
  const int64_t pieces = piece_offset[segments];
  for (int64_t pid = blockIdx.x; pid < pieces && pid < max_pieces; pid += gridDim.x) {
    // c: the last key with piece_offset[c] <= pid.
    int64_t lo = 0;
    int64_t hi = segments;
    while (hi - lo > 1) {
      const int64_t mid = (lo + hi) / 2;
      if (piece_offset[mid] <= pid) lo = mid; else hi = mid;
    }
    const int64_t c = lo;
    const int64_t first = start[c] + (pid - piece_offset[c]) * kPieceRows;
    const int64_t last = min(first + kPieceRows, start[c + 1]);
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
      double s = 0.0;
      for (int64_t p = first; p < last; ++p) s += x[sorted_rows[p] * ld + j];
      piece_sums[pid * d + j] = s;
    }
  }
}

// sums[c] += centroid c's pieces, band by band and in order within a band; counts likewise.
__global__ void add_pieces_kernel(const double* piece_sums, const int64_t* start, const int64_t* piece_offset,
                                  int32_t total_k, int32_t bands, int64_t d, double* sums, double* counts) {
  for (int64_t c = blockIdx.x; c < total_k; c += gridDim.x) {
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
      double s = 0.0;
      for (int64_t band = 0; band < bands; ++band) {
        const int64_t key = band * total_k + c;
        for (int64_t pid = piece_offset[key]; pid < piece_offset[key + 1]; ++pid) s += piece_sums[pid * d + j];
      }
      sums[c * d + j] += s;
    }
    if (threadIdx.x == 0) {
      int64_t rows = 0;
      for (int64_t band = 0; band < bands; ++band) rows += start[band * total_k + c + 1] - start[band * total_k + c];
      counts[c] += static_cast<double>(rows);
    }
  }
}

__global__ void finalize_kernel(const double* sums, const double* counts, float* centroids, int64_t k, int64_t d,
                                int64_t ld) {
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < k * d; e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t c = e / d;
    if (counts[c] > 0.0) centroids[c * ld + e % d] = static_cast<float>(sums[e] / counts[c]);
  }
}

__global__ void sum_per_problem_kernel(const float* values, int64_t n, double* out) {
  __shared__ double part[512];
  const float* v = values + blockIdx.x * n;
  double local = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) local += v[i];
  const double total = block_sum_double(local, part);
  if (threadIdx.x == 0) out[blockIdx.x] = total;
}

COHORT_CUDA_NAMESPACE_END
