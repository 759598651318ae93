// Batched k-means assignment on the TF32 tensor cores with each input split in two TF32 parts,
// the distances and each problem's argmin in one kernel: no n x total_k distance matrix (8.3 GB
// an iteration for 1M rows and the sweep k = 2..64, written by the GEMM and read back by the
// argmin on the cuBLAS paths). Launched by kmeans.cu with COHORT_KMEANS_ASSIGN=split for
// d <= kSplitMaxDims on sm_80 and later; tested on the CPU emulation, whose mma_tf32_16x8x8
// exchanges the fragments between the lanes (tests/kernels/kmeans_split_tf32_emulated_test.cpp).
//
// The numbers are split TF32's (kmeans_tf32_kernels.cuh): each value v as hi = tf32(v) and
// lo = tf32(v - hi), and x.c as x_hi c_hi + x_hi c_lo + x_lo c_hi, off by at most
// split_tf32_distance_error(d) |x| |c| in the distance. Where that error could have changed a
// row's nearest centroid of a problem, the kernel lists the (problem, row) pair and
// fp32_assign_pairs_kernel redoes it in FP32, so labels are FP32's up to FP32's own near-ties.
// The test is conservative: the other centroids' lower bounds are taken as the second-nearest
// distance less the error of the problem's largest centroid.
//
// Work split: a block takes kSplitRows rows, staged once in shared memory in FP32 (split into
// TF32 parts as the fragments are loaded), and walks the centroids in the AssignPlan chunks of
// kAssignSlots slots (kmeans_assign_kernels.cuh; here every problem is padded to whole units of
// kSplitUnitSlots slots), each chunk staged already split (kPresplit) or in FP32 and split as
// loaded, when that lets more blocks share an SM (kmeans.cu chooses). Warp w computes rows
// (w % 4) * 32 .. + 32 against slots (w / 4) * 32 .. + 32: 2 x 4 tiles of m16n8k8, three MMAs
// each per 8 dimensions. The chunk's centroids are staged in the order that hands lane (g, q)
// the 8 consecutive slots q * 8 .. + 8 of its half (split_tile_row below), so each thread
// reduces whole units of its rows by itself; one thread per (row, problem) then folds the units
// of its problem in slot order, as the FP32 fused kernel does.
//
// Shared memory rows are d rounded up to 8, plus 4 floats: the fragment loads (8 rows x 4
// columns a warp) then fall on 32 different banks for every d.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/cuda/device_functions.cuh"
#include "kernels/cuda/kmeans_assign_kernels.cuh"
#include "kernels/cuda/kmeans_tf32_kernels.cuh"

COHORT_CUDA_NAMESPACE_BEGIN

constexpr int kSplitRows = 128;
constexpr int kSplitThreads = 256;
constexpr int kSplitUnitSlots = 8;                             // an m16n8k8 tile's columns
constexpr int kSplitUnits = kAssignSlots / kSplitUnitSlots;    // 8 a chunk
constexpr int kSplitUnitStride = kSplitUnits + 1;              // partials: [kSplitRows][kSplitUnitStride]
constexpr int kSplitPartialFloats = 3 * kSplitRows * kSplitUnitStride;
// The largest d whose rows and FP32 chunk fit sm_80's 163 KB of shared memory (151 KB at 192;
// with the chunk presplit, 135 KB at d = 128 and 200 KB at 192).
constexpr int kSplitMaxDims = 192;
static_assert(kSplitRows == kAssignRows, "merge_chunk_segments takes a row per kAssignRows threads");
static_assert(kSplitThreads == 8 * 32, "eight warps: four of rows by two of slots");

inline int split_assign_row_stride(int d) { return (d + 7) / 8 * 8 + 4; }

// The shared-memory row of chunk slot s. B's column n of tile t (of a warp's 4) is row
// half + 8t + n, and lane (g, q) receives columns 2q and 2q + 1 of every tile; putting slot
// half + 8q + 2t + c at row half + 8t + 2q + c gives that lane slots half + 8q .. + 8, in order
// t, c. The fragment loads keep reading 8 consecutive rows a tile, free of bank conflicts.
__device__ __forceinline__ int split_tile_row(int s) {
  const int q = (s >> 3) & 3;
  const int j = s & 7;
  return (s & 32) | ((j >> 1) * 8 + 2 * q + (j & 1));
}

// The centroid chunk's floats: two copies (TF32 hi and lo parts) presplit, one in FP32 otherwise;
// the partials of the argmin reuse them.
__host__ __device__ inline int split_centroid_area(int stride, bool presplit) {
  const int chunk = (presplit ? 2 : 1) * kAssignSlots * stride;
  return chunk > kSplitPartialFloats ? chunk : kSplitPartialFloats;
}

inline int64_t split_assign_shared_bytes(int d, bool presplit) {
  const int64_t stride = split_assign_row_stride(d);
  const int64_t centroid_area = split_centroid_area(static_cast<int>(stride), presplit);
  return (kSplitRows * stride + centroid_area + kSplitRows + kAssignSlots) * int64_t{sizeof(float)};
}

template <bool kPresplit>
__global__ void __launch_bounds__(kSplitThreads)
    split_tf32_assign_kernel(const float* x, int64_t ld, int64_t n, int d, const float* x_sq, const float* centroids,
                             int64_t c_ld, const float* c_sq, const float* problem_c_norm_max,
                             const int64_t* k_offsets, const int32_t* slot_centroid, const AssignSegment* segments,
                             const int32_t* chunk_segments, int chunks, int32_t* labels, float* best_dist,
                             float* second_dist, Tf32Check check) {
  COHORT_DYNAMIC_SHARED(float, shared);
  const int d8 = (d + 7) / 8 * 8;
  const int stride = d8 + 4;
  float* xs = shared;                              // [kSplitRows][stride], FP32
  float* c_hi = xs + kSplitRows * stride;          // [kAssignSlots][stride]: TF32 hi parts, or FP32
  float* c_lo = c_hi + kAssignSlots * stride;      // [kAssignSlots][stride]: lo parts (kPresplit)
  float* xsq = c_hi + split_centroid_area(stride, kPresplit);  // [kSplitRows]
  float* csq = xsq + kSplitRows;                   // [kAssignSlots]
  float* part_best = c_hi;                         // [kSplitRows][kSplitUnitStride], over the chunk
  float* part_second = c_hi + kSplitRows * kSplitUnitStride;
  int32_t* part_slot = reinterpret_cast<int32_t*>(c_hi + 2 * kSplitRows * kSplitUnitStride);

  const int t = static_cast<int>(threadIdx.x);
  const int lane = t % 32;
  const int g = lane / 4;  // the fragments' row (A) or column (B) within a tile
  const int q = lane % 4;  // and their k
  const int warp_row = (t / 32) % 4 * 32;
  const int warp_slot = (t / 32) / 4 * 32;
  const int64_t row0 = int64_t{blockIdx.x} * kSplitRows;

  for (int e = t; e < kSplitRows * d8; e += blockDim.x) {
    const int r = e / d8;
    const int k = e - r * d8;
    xs[r * stride + k] = row0 + r < n && k < d ? x[(row0 + r) * ld + k] : 0.0f;
  }
  for (int r = t; r < kSplitRows; r += blockDim.x) xsq[r] = row0 + r < n ? x_sq[row0 + r] : 0.0f;

  const int merge_row = t % kSplitRows;
  TwoLowest running = two_lowest();

  for (int ch = 0; ch < chunks; ++ch) {
    const int32_t* slots = slot_centroid + int64_t{ch} * kAssignSlots;
    for (int e = t; e < kAssignSlots * d8; e += blockDim.x) {
      const int s = e / d8;
      const int k = e - s * d8;
      const int32_t c = slots[s];
      const float v = c >= 0 && k < d ? centroids[c * c_ld + k] : 0.0f;
      const int r = split_tile_row(s);
      if (kPresplit) {
        const float hi = tf32_truncate(v);
        c_hi[r * stride + k] = hi;
        c_lo[r * stride + k] = tf32_truncate(v - hi);
      } else {
        c_hi[r * stride + k] = v;
      }
    }
    for (int s = t; s < kAssignSlots; s += blockDim.x) csq[s] = slots[s] >= 0 ? c_sq[slots[s]] : INFINITY;
    __syncthreads();

    float acc[2][4][4];
    COHORT_UNROLL
    for (int mi = 0; mi < 2; ++mi) {
      COHORT_UNROLL
      for (int ni = 0; ni < 4; ++ni) {
        COHORT_UNROLL
        for (int r = 0; r < 4; ++r) acc[mi][ni][r] = 0.0f;
      }
    }
    for (int kb = 0; kb < d8; kb += 8) {
      float a_hi[2][4], a_lo[2][4];
      COHORT_UNROLL
      for (int mi = 0; mi < 2; ++mi) {
        const float* a = xs + (warp_row + mi * 16 + g) * stride + kb + q;
        const float v[4] = {a[0], a[8 * stride], a[4], a[8 * stride + 4]};
        COHORT_UNROLL
        for (int r = 0; r < 4; ++r) {
          a_hi[mi][r] = tf32_truncate(v[r]);
          a_lo[mi][r] = tf32_truncate(v[r] - a_hi[mi][r]);
        }
      }
      float b_hi[4][2], b_lo[4][2];
      COHORT_UNROLL
      for (int ni = 0; ni < 4; ++ni) {
        const int b = (warp_slot + ni * 8 + g) * stride + kb + q;
        if (kPresplit) {
          b_hi[ni][0] = c_hi[b];
          b_hi[ni][1] = c_hi[b + 4];
          b_lo[ni][0] = c_lo[b];
          b_lo[ni][1] = c_lo[b + 4];
        } else {
          const float v[2] = {c_hi[b], c_hi[b + 4]};
          COHORT_UNROLL
          for (int r = 0; r < 2; ++r) {
            b_hi[ni][r] = tf32_truncate(v[r]);
            b_lo[ni][r] = tf32_truncate(v[r] - b_hi[ni][r]);
          }
        }
      }
      // The small terms first, into the accumulator the large ones then join.
      COHORT_UNROLL
      for (int mi = 0; mi < 2; ++mi) {
        COHORT_UNROLL
        for (int ni = 0; ni < 4; ++ni) {
          mma_tf32_16x8x8(acc[mi][ni], a_lo[mi], b_hi[ni]);
          mma_tf32_16x8x8(acc[mi][ni], a_hi[mi], b_lo[ni]);
          mma_tf32_16x8x8(acc[mi][ni], a_hi[mi], b_hi[ni]);
        }
      }
    }
    __syncthreads();  // every warp is done with the chunk before the partials overwrite it

    // Lane (g, q) holds rows g and g + 8 of each 16-row tile against the unit of slots
    // warp_slot + 8q .. + 8 (split_tile_row), slot 2t + c of it in acc[.][t][. + c]. Within a
    // row the order is that of |c|^2 - 2 x.c; |x|^2 and the clamp at 0, which keep it, come after.
    const int unit_slot = warp_slot + 8 * q;
    float slot_sq[kSplitUnitSlots];
    COHORT_UNROLL
    for (int j = 0; j < kSplitUnitSlots; ++j) slot_sq[j] = csq[unit_slot + j];
    COHORT_UNROLL
    for (int mi = 0; mi < 2; ++mi) {
      COHORT_UNROLL
      for (int h = 0; h < 2; ++h) {
        const int row = warp_row + mi * 16 + h * 8 + g;
        TwoLowest near = two_lowest();
        COHORT_UNROLL
        for (int j = 0; j < kSplitUnitSlots; ++j)
          offer(near, slot_sq[j] - 2.0f * acc[mi][j >> 1][2 * h + (j & 1)], unit_slot + j);
        const float row_sq = xsq[row];
        const int p = row * kSplitUnitStride + unit_slot / kSplitUnitSlots;
        part_best[p] = fmaxf(0.0f, row_sq + near.best);
        part_second[p] = fmaxf(0.0f, row_sq + near.second);
        part_slot[p] = near.index;
      }
    }
    __syncthreads();

    const int64_t row = row0 + merge_row;
    merge_chunk_segments(ch, kSplitUnitSlots, kSplitUnitStride, part_best, part_second, part_slot, slots, segments,
                         chunk_segments, running, [&](int32_t problem, const TwoLowest& here) {
                           if (row >= n) return;
                           const int64_t lo = k_offsets[problem];
                           const int64_t k = k_offsets[problem + 1] - lo;
                           const int64_t out = problem * n + row;
                           store_nearest(here, lo, k, out, labels, best_dist, second_dist);
                           if (k == 1) return;
                           const float slack = check.error * sqrtf(xsq[merge_row]);
                           const bool decided = here.index >= 0 &&
                                                here.second - slack * problem_c_norm_max[problem] >
                                                    here.best + slack * check.c_norm[here.index];
                           if (!decided) list_pair(check, out);
                         });
    __syncthreads();  // the partials are read before the next chunk is staged over them
  }
}

// The largest |c| of each problem's centroids (c_norm: |c| per global centroid), one thread a
// problem: the split kernel's bound on the error of a row's other centroids.
__global__ void problem_max_kernel(const float* c_norm, const int64_t* k_offsets, int num_problems, float* out) {
  for (int b = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); b < num_problems;
       b += static_cast<int>(gridDim.x * blockDim.x)) {
    float m = 0.0f;
    for (int64_t c = k_offsets[b]; c < k_offsets[b + 1]; ++c) m = fmaxf(m, c_norm[c]);
    out[b] = m;
  }
}

// A warp per listed (problem, row) pair: every centroid of the problem in FP32, a lane per
// centroid, then the warp's nearest and second nearest (lowest index on ties).
__global__ void fp32_assign_pairs_kernel(const float* x, int64_t ld, int d, const float* x_sq,
                                         const float* centroids, int64_t c_ld, const float* c_sq,
                                         const int64_t* k_offsets, int64_t n, Tf32Check check, int32_t* labels,
                                         float* best_dist, float* second_dist) {
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int64_t warps = int64_t{gridDim.x} * (blockDim.x / 32);
  for (int64_t s = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / 32; s < listed_pairs(check); s += warps) {
    const auto [out, b, row] = listed_pair(check, s, n);
    const int64_t lo = k_offsets[b];
    const int64_t hi = k_offsets[b + 1];
    const float xs = x_sq[row];
    const float* xr = x + row * ld;
    TwoLowest near = two_lowest();  // global centroid indices
    for (int64_t c = lo + lane; c < hi; c += 32) {
      const float* cr = centroids + c * c_ld;
      float dot = 0.0f;
      for (int k = 0; k < d; ++k) dot = fmaf(xr[k], cr[k], dot);
      offer(near, fmaxf(0.0f, xs + -2.0f * dot + c_sq[c]), static_cast<int32_t>(c));
    }
    for (int o = 16; o > 0; o >>= 1) {
      const TwoLowest other{__shfl_xor_sync(0xffffffffu, near.best, o), __shfl_xor_sync(0xffffffffu, near.second, o),
                            __shfl_xor_sync(0xffffffffu, near.index, o)};
      merge_two_lowest(near, other);
    }
    if (lane == 0) store_nearest(near, lo, hi - lo, out, labels, best_dist, second_dist);
  }
}

COHORT_CUDA_NAMESPACE_END
