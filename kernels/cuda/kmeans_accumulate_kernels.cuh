// Batched k-means accumulation without sorting, for many problems at once; launched by
// kmeans.cu when it reads x fewer times than the sort-based path, tested on the CPU emulation
// (tests/kernels/kmeans_accumulate_kernels_emulated_test.cpp).
//
// The sort-based path gathers every row of x once per problem (at 1M x 64 and the 63 problems
// of the sweep k = 2..64, 16 GB per iteration). Here consecutive problems are grouped so that
// a group's sums (k x d doubles) fit in shared memory; a block takes one group and one range
// of rows, stages the rows in tiles, and each thread adds its dimension of every row into the
// centroid its problem's label names: x is read once per group (about 17 times for the
// sweep), the sums stay on chip, and nothing is atomic. Each block writes its range's sums,
// and a second kernel adds the ranges in order: the result is the same from run to run.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/cuda/device_functions.cuh"

COHORT_DEVICE_CODE_BEGIN

constexpr int kGroupThreads = 256;
constexpr int kGroupTileRows = 32;
constexpr int64_t kGroupSumBytes = 64 * 1024;  // shared memory for one group's sums
constexpr int kGroupBadLabel = 1;

// Problems [problem_begin[g], problem_begin[g + 1]) form group g (built on the host).
struct AccumulatePlan {
  std::vector<int32_t> problem_begin;
  int groups() const { return problem_begin.empty() ? 0 : static_cast<int>(problem_begin.size()) - 1; }
};

// Groups of consecutive problems whose sums fit in kGroupSumBytes; empty when a single problem
// does not fit (the sort-based path serves that case).
inline AccumulatePlan plan_accumulate(const int64_t* k_offsets, int num_problems, int64_t d) {
  AccumulatePlan plan;
  plan.problem_begin.push_back(0);
  const int64_t per_centroid = std::max<int64_t>(d, 1) * int64_t{sizeof(double)};
  int64_t used = 0;
  for (int b = 0; b < num_problems; ++b) {
    const int64_t bytes = (k_offsets[b + 1] - k_offsets[b]) * per_centroid;
    if (bytes > kGroupSumBytes) return AccumulatePlan{};
    if (used + bytes > kGroupSumBytes) {
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
  // the sums hold rows of d), the staged tile of rows.
  const int64_t max_centroids = kGroupSumBytes / (std::max<int64_t>(d, 1) * int64_t{sizeof(double)});
  return kGroupSumBytes + max_centroids * int64_t{sizeof(double)} + kGroupTileRows * d * int64_t{sizeof(float)};
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
  const int64_t c_lo = k_offsets[p_lo];
  const int64_t c_count = k_offsets[p_hi] - c_lo;
  const int64_t max_centroids = kGroupSumBytes / (max(d, int64_t{1}) * int64_t{sizeof(double)});
  double* sums = shared;                                             // [c_count][d]
  double* counts = shared + kGroupSumBytes / sizeof(double);          // [c_count]
  float* tile = reinterpret_cast<float*>(counts + max_centroids);    // [kGroupTileRows][d]

  const int t = static_cast<int>(threadIdx.x);
  for (int64_t e = t; e < c_count * d; e += blockDim.x) sums[e] = 0.0;
  for (int64_t c = t; c < c_count; c += blockDim.x) counts[c] = 0.0;
  // Threads work in teams of `team` threads, one team per problem at a time, a thread per
  // dimension (looping when d exceeds the team).
  const int team = static_cast<int>(min(d > 0 ? d : int64_t{1}, static_cast<int64_t>(blockDim.x)));
  const int teams = static_cast<int>(blockDim.x) / team;
  const int my_team = t / team;
  const int my_dim = t - my_team * team;

  const int64_t row_begin = range * range_rows;
  const int64_t row_end = min(n, row_begin + range_rows);
  for (int64_t r0 = row_begin; r0 < row_end; r0 += kGroupTileRows) {
    const int rows = static_cast<int>(min(static_cast<int64_t>(kGroupTileRows), row_end - r0));
    __syncthreads();  // the previous tile has been read
    for (int64_t e = t; e < rows * d; e += blockDim.x) {
      const int64_t r = e / d;
      tile[e] = x[(r0 + r) * ld + (e - r * d)];
    }
    __syncthreads();
    if (my_team >= teams) continue;
    for (int p = p_lo + my_team; p < p_hi; p += teams) {
      const int64_t k = k_offsets[p + 1] - k_offsets[p];
      const int64_t base = k_offsets[p] - c_lo;
      const int32_t* lab = labels + p * n + r0;
      for (int r = 0; r < rows; ++r) {
        const int32_t c = lab[r];
        if (c < 0 || c >= k) {
          if (my_dim == 0) atomicOr(flag, kGroupBadLabel);
          continue;
        }
        double* s = sums + (base + c) * d;
        for (int64_t j = my_dim; j < d; j += team) s[j] += tile[r * d + j];
        if (my_dim == 0) counts[base + c] += 1.0;
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

COHORT_DEVICE_CODE_END
