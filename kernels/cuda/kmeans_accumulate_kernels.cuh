// Batched k-means accumulation: grouped sums in shared memory for many problems at once, the
// sort-based path for few, the centroid update and the per-problem sums; launched by
// kmeans.cu, tested on the CPU emulation (tests/kernels/kmeans_accumulate_kernels_emulated_test.cpp).
//
// The sort-based path gathers every row of x once per problem (at 1M x 64 and the 63 problems
// of the sweep k = 2..64, 16 GB per iteration). Here consecutive problems are grouped so that
// a group's sums (k x d doubles) fit in shared memory; a block takes one group and one range
// of rows, stages the rows and their labels in tiles, and each thread adds its dimension of
// every row into the centroid its problem's label names: x is read once per group (about 17
// times for the sweep), the sums stay on chip, and nothing is atomic. Each block writes its
// range's sums, and a second kernel adds the ranges in order: the result is the same from run
// to run.
//
// Each thread's additions form one chain (consecutive rows can name the same centroid), so a
// block's time is its rows x its problems per team x the latency of one step. The labels are
// staged with the rows, coalesced, so that a step is shared-memory traffic alone (an H200 ran
// session 3's version, which read each label from global memory inside the chain, at 37 ms
// for the sweep against 5 ms for the sort-based path), and the launcher cuts the rows into
// enough ranges that every multiprocessor holds several blocks.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/cuda/device_functions.cuh"

COHORT_CUDA_NAMESPACE_BEGIN

constexpr int kGroupThreads = 256;
constexpr int kGroupTileRows = 32;
constexpr int64_t kGroupSumBytes = 64 * 1024;  // shared memory for one group's sums
constexpr int kGroupMaxProblems = 64;          // bounds the staged labels: 32 x 64 int32
constexpr int kGroupBadLabel = 1;
constexpr int kSortBadLabel = 1;
constexpr int64_t kPieceRows = 1024;  // rows per piece of the sort-based path

// Problems [problem_begin[g], problem_begin[g + 1]) form group g (built on the host).
struct AccumulatePlan {
  std::vector<int32_t> problem_begin;
  int groups() const { return problem_begin.empty() ? 0 : static_cast<int>(problem_begin.size()) - 1; }
};

// Groups of at most kGroupMaxProblems consecutive problems whose sums fit in kGroupSumBytes;
// empty when a single problem does not fit (the sort-based path serves that case).
inline AccumulatePlan plan_accumulate(const int64_t* k_offsets, int num_problems, int64_t d) {
  AccumulatePlan plan;
  plan.problem_begin.push_back(0);
  const int64_t per_centroid = std::max<int64_t>(d, 1) * int64_t{sizeof(double)};
  int64_t used = 0;
  for (int b = 0; b < num_problems; ++b) {
    const int64_t bytes = (k_offsets[b + 1] - k_offsets[b]) * per_centroid;
    if (bytes > kGroupSumBytes) return AccumulatePlan{};
    if (used + bytes > kGroupSumBytes || b - plan.problem_begin.back() == kGroupMaxProblems) {
      plan.problem_begin.push_back(b);
      used = 0;
    }
    used += bytes;
  }
  plan.problem_begin.push_back(num_problems);
  return plan;
}

inline int64_t group_sums_shared_bytes(int64_t d) {
  // sums (kGroupSumBytes), the group's counts (one double per centroid: at most as many as
  // the sums hold rows of d), the staged tile of rows, the staged labels.
  const int64_t max_centroids = kGroupSumBytes / (std::max<int64_t>(d, 1) * int64_t{sizeof(double)});
  return kGroupSumBytes + max_centroids * int64_t{sizeof(double)} + kGroupTileRows * d * int64_t{sizeof(float)} +
         int64_t{kGroupTileRows} * kGroupMaxProblems * int64_t{sizeof(int32_t)};
}

// Block (range r, group g): for the rows [r * range_rows, ...) and the problems of group g,
// partial_sums[r][c][j] = sum of x[i][j] over the rows i whose label in c's problem is c, and
// partial_counts[r][c] the number of them, for every centroid c of the group (global index).
__global__ void __launch_bounds__(kGroupThreads)
    group_partial_sums_kernel(const float* x, int64_t ld, int64_t n, int64_t d, const int32_t* labels,
                              const int64_t* k_offsets, const int32_t* problem_begin, int64_t range_rows,
                              int64_t total_k, double* partial_sums, double* partial_counts, int* flag) {
  COHORT_DYNAMIC_SHARED(double, shared);
  const int g = static_cast<int>(blockIdx.y);
  const int64_t range = blockIdx.x;
  const int p_lo = problem_begin[g];
  const int p_hi = problem_begin[g + 1];
  const int problems = p_hi - p_lo;  // <= kGroupMaxProblems
  const int64_t c_lo = k_offsets[p_lo];
  const int64_t c_count = k_offsets[p_hi] - c_lo;
  const int64_t max_centroids = kGroupSumBytes / (max(d, int64_t{1}) * int64_t{sizeof(double)});
  double* sums = shared;                                             // [c_count][d]
  double* counts = shared + kGroupSumBytes / sizeof(double);          // [c_count]
  float* tile = reinterpret_cast<float*>(counts + max_centroids);    // [kGroupTileRows][d]
  int32_t* tile_labels = reinterpret_cast<int32_t*>(tile + kGroupTileRows * d);  // [problems][kGroupTileRows]

  const int t = static_cast<int>(threadIdx.x);
  for (int64_t e = t; e < c_count * d; e += blockDim.x) sums[e] = 0.0;
  for (int64_t c = t; c < c_count; c += blockDim.x) counts[c] = 0.0;
  // Threads work in teams of `team` threads, one team per problem at a time, a thread per
  // dimension (looping when d exceeds the team).
  const int dims = static_cast<int>(d);  // the launcher keeps d within shared memory
  const int team = min(max(dims, 1), static_cast<int>(blockDim.x));
  const int teams = static_cast<int>(blockDim.x) / team;
  const int my_team = t / team;
  const int my_dim = t - my_team * team;

  const int64_t row_begin = range * range_rows;
  const int64_t row_end = min(n, row_begin + range_rows);
  for (int64_t r0 = row_begin; r0 < row_end; r0 += kGroupTileRows) {
    const int rows = static_cast<int>(min(static_cast<int64_t>(kGroupTileRows), row_end - r0));
    __syncthreads();  // the previous tile has been read
    for (int e = t; e < rows * dims; e += blockDim.x) {
      const int r = e / dims;
      tile[e] = x[(r0 + r) * ld + (e - r * dims)];
    }
    // Labels in range become the centroid's index in the group's sums, others -1 (flagged).
    for (int e = t; e < problems * kGroupTileRows; e += blockDim.x) {
      const int q = e / kGroupTileRows;
      const int r = e - q * kGroupTileRows;
      if (r >= rows) continue;
      const int p = p_lo + q;
      const int32_t c = labels[p * n + r0 + r];
      const int64_t k = k_offsets[p + 1] - k_offsets[p];
      const bool ok = c >= 0 && c < k;
      if (!ok) atomicOr(flag, kGroupBadLabel);
      tile_labels[e] = ok ? static_cast<int32_t>(k_offsets[p] - c_lo + c) : -1;
    }
    __syncthreads();
    if (my_team >= teams) continue;
    for (int q = my_team; q < problems; q += teams) {
      const int32_t* lab = tile_labels + q * kGroupTileRows;
      for (int r = 0; r < rows; ++r) {
        const int32_t c = lab[r];
        if (c < 0) continue;
        double* s = sums + static_cast<int64_t>(c) * d;
        for (int j = my_dim; j < dims; j += team) s[j] += tile[r * dims + j];
        if (my_dim == 0) counts[c] += 1.0;
      }
    }
  }
  __syncthreads();
  double* out = partial_sums + (range * total_k + c_lo) * d;
  for (int64_t e = t; e < c_count * d; e += blockDim.x) out[e] = sums[e];
  for (int64_t c = t; c < c_count; c += blockDim.x) partial_counts[range * total_k + c_lo + c] = counts[c];
}

// sums[e] += sum over ranges, in range order, of partial_sums[range][e]; counts likewise.
__global__ void add_ranges_kernel(const double* partial_sums, const double* partial_counts, int64_t ranges,
                                  int64_t total_k, int64_t d, double* sums, double* counts) {
  const int64_t elements = total_k * d;
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < elements + total_k;
       e += int64_t{gridDim.x} * blockDim.x) {
    double s = 0.0;
    if (e < elements) {
      for (int64_t r = 0; r < ranges; ++r) s += partial_sums[r * elements + e];
      sums[e] += s;
    } else {
      const int64_t c = e - elements;
      for (int64_t r = 0; r < ranges; ++r) s += partial_counts[r * total_k + c];
      counts[c] += s;
    }
  }
}

// ---- the sort-based path (few problems), finalize, per-problem sums ----
//
// The (problem, row) pairs are keyed by global centroid and radix-sorted (stable: rows stay in
// order within a centroid) by the launcher; each centroid's run is cut into pieces of
// kPieceRows summed in row order in double, and the pieces are added in order.

// key = global centroid of (problem b, row i), total_k for a label out of range.
__global__ void make_keys_kernel(const int32_t* labels, const int64_t* k_offsets, int num_problems, int64_t n,
                                 int32_t total_k, int32_t* keys, int32_t* rows, int* flag) {
  const int64_t count = n * num_problems;
  for (int64_t p = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; p < count; p += int64_t{gridDim.x} * blockDim.x) {
    const int64_t b = p / n;
    const int32_t label = labels[p];
    const int64_t k = k_offsets[b + 1] - k_offsets[b];
    if (label < 0 || label >= k) {
      atomicOr(flag, kSortBadLabel);
      keys[p] = total_k;
    } else {
      keys[p] = static_cast<int32_t>(k_offsets[b] + label);
    }
    rows[p] = static_cast<int32_t>(p - b * n);
  }
}

// start[c] = first position of a key >= c in the sorted keys, for c in [0, total_k]; pieces[c]
// = the number of kPieceRows pieces of centroid c's run (c < total_k).
__global__ void run_starts_kernel(const int32_t* keys, int64_t count, int32_t total_k, int64_t* start) {
  for (int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; c <= total_k; c += int64_t{gridDim.x} * blockDim.x) {
    int64_t lo = 0;
    int64_t hi = count;
    while (lo < hi) {
      const int64_t mid = (lo + hi) / 2;
      if (keys[mid] < c) lo = mid + 1; else hi = mid;
    }
    start[c] = lo;
  }
}

__global__ void piece_counts_kernel(const int64_t* start, int32_t total_k, int64_t* pieces) {
  for (int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; c < total_k; c += int64_t{gridDim.x} * blockDim.x) {
    pieces[c] = (start[c + 1] - start[c] + kPieceRows - 1) / kPieceRows;
  }
}

// One block per piece: the sum, in row order and in double, of at most kPieceRows rows of one
// centroid's run. piece_offset (total_k + 1) is the exclusive scan of the piece counts.
__global__ void piece_sums_kernel(const float* x, int64_t ld, int64_t d, const int32_t* sorted_rows,
                                  const int64_t* start, const int64_t* piece_offset, int32_t total_k,
                                  int64_t max_pieces, double* piece_sums) {
  const int64_t pieces = piece_offset[total_k];
  for (int64_t pid = blockIdx.x; pid < pieces && pid < max_pieces; pid += gridDim.x) {
    // c: the last centroid with piece_offset[c] <= pid.
    int64_t lo = 0;
    int64_t hi = total_k;
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

__global__ void add_pieces_kernel(const double* piece_sums, const int64_t* start, const int64_t* piece_offset,
                                  int32_t total_k, int64_t d, double* sums, double* counts) {
  for (int64_t c = blockIdx.x; c < total_k; c += gridDim.x) {
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
      double s = 0.0;
      for (int64_t pid = piece_offset[c]; pid < piece_offset[c + 1]; ++pid) s += piece_sums[pid * d + j];
      sums[c * d + j] += s;
    }
    if (threadIdx.x == 0) counts[c] += static_cast<double>(start[c + 1] - start[c]);
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
