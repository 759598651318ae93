// Batched k-means assignment with the argmin fused into the distance computation: no
// n x total_k distance matrix is written (at 1M rows and the sweep k = 2..64 that matrix is
// 8.3 GB per iteration, written by the GEMM and read back by the argmin). Launched by
// kmeans.cu for d <= kFusedMaxDims; tested on the CPU emulation
// (tests/kernels/kmeans_assign_kernels_emulated_test.cpp).
//
// Each block takes kAssignRows rows, stages them transposed in shared memory once, then walks
// the centroids in chunks of kAssignSlots slots. A chunk holds several whole small problems
// (each padded to a multiple of kSlotsPerThread slots, padding at +inf distance) or one piece
// of a problem with more than kAssignSlots centroids. Each thread computes an 8-row x 4-slot
// tile of dot products (register tiling over d), keeps the nearest and second-nearest of its
// 4 slots per row, and one thread per (row, problem) then merges the lanes of that problem in
// slot order, carrying a large problem's running result from chunk to chunk in registers.
// Ties keep the lowest centroid index; an equal distance still becomes the second.
//
// Shared-memory strides are padded against bank conflicts. Staging writes column k of a row
// (or centroid) at k * stride: with stride 128 or 64 the 32 lanes of a warp all hit one bank
// (32-way); with 132 and 68 they spread over 8 banks (4-way), and the rows stay 16-byte
// aligned for the 128-bit loads of the inner loop. The merge reads each row's partials at
// row * stride: 16 put a warp on 2 banks (16-way), 17 on all 32. By count of shared-memory
// wavefronts per 64-slot chunk at d = 64 (one block, 8 warps): staging 4096 -> 512, merge
// reads ~3072 -> ~192, against the inner loop's 2048; the FMAs take 4096 issue cycles, so the
// unpadded kernel was bound by shared memory, not arithmetic.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/cuda/device_functions.cuh"
#include "kernels/cuda/kmeans_tf32_kernels.cuh"

COHORT_CUDA_NAMESPACE_BEGIN

constexpr int kAssignRows = 128;
constexpr int kAssignSlots = 64;
constexpr int kRowsPerThread = 8;
constexpr int kSlotsPerThread = 4;
constexpr int kSlotLanes = kAssignSlots / kSlotsPerThread;                    // 16
constexpr int kAssignThreads = (kAssignRows / kRowsPerThread) * kSlotLanes;  // 256
constexpr int kFusedMaxDims = 192;
constexpr int kRowStride = kAssignRows + 4;   // xs: [d][kRowStride]
constexpr int kSlotStride = kAssignSlots + 4;  // cs: [d][kSlotStride]
constexpr int kLaneStride = kSlotLanes + 1;    // partials: [kAssignRows][kLaneStride]
constexpr int kPartialFloats = 3 * kAssignRows * kLaneStride;  // best, second, slot per (row, lane)

// One problem's slots within a chunk.
struct AssignSegment {
  int32_t problem;
  int16_t slot_begin;  // multiples of the plan's unit
  int16_t slot_end;
  uint8_t first;       // the problem's first chunk
  uint8_t last;        // the problem's last chunk
};

// How the centroids of all problems are laid out in chunks (built on the host).
struct AssignPlan {
  std::vector<int32_t> slot_centroid;   // chunks x kAssignSlots: global centroid, or -1 (padding)
  std::vector<AssignSegment> segments;  // in chunk order
  std::vector<int32_t> chunk_segments;  // chunks + 1: chunk c has segments [c], [c + 1])
  int chunks() const { return static_cast<int>(chunk_segments.size()) - 1; }
};

// Every problem's slots are padded to whole units of `unit_slots` (a divisor of kAssignSlots):
// the slots one thread (the FP32 kernel) or one MMA tile (the split TF32 kernel) reduces together.
inline AssignPlan plan_assign(const int64_t* k_offsets, int num_problems, int unit_slots = kSlotsPerThread) {
  AssignPlan plan;
  plan.chunk_segments.push_back(0);
  int used = kAssignSlots;  // slots used in the open chunk; full: none open
  auto open_chunk = [&] {
    if (plan.chunk_segments.size() > 1 || !plan.slot_centroid.empty())
      plan.chunk_segments.push_back(static_cast<int32_t>(plan.segments.size()));
    plan.slot_centroid.resize(plan.slot_centroid.size() + kAssignSlots, -1);
    used = 0;
  };
  for (int b = 0; b < num_problems; ++b) {
    const int64_t lo = k_offsets[b];
    const int64_t k = k_offsets[b + 1] - lo;
    if (k == 0) continue;
    const int64_t pieces = (k + kAssignSlots - 1) / kAssignSlots;
    for (int64_t piece = 0; piece < pieces; ++piece) {
      const int64_t count = std::min<int64_t>(kAssignSlots, k - piece * kAssignSlots);
      const int need = static_cast<int>((count + unit_slots - 1) / unit_slots * unit_slots);
      // A problem of more than one chunk has its chunks to itself.
      if (used + need > kAssignSlots || pieces > 1) open_chunk();
      const std::size_t base = plan.slot_centroid.size() - kAssignSlots;
      for (int64_t c = 0; c < count; ++c)
        plan.slot_centroid[base + static_cast<std::size_t>(used + c)] =
            static_cast<int32_t>(lo + piece * kAssignSlots + c);
      plan.segments.push_back(AssignSegment{b, static_cast<int16_t>(used), static_cast<int16_t>(used + need),
                                            static_cast<uint8_t>(piece == 0),
                                            static_cast<uint8_t>(piece == pieces - 1)});
      used = pieces > 1 ? kAssignSlots : used + need;
    }
  }
  if (!plan.slot_centroid.empty()) plan.chunk_segments.push_back(static_cast<int32_t>(plan.segments.size()));
  return plan;
}

inline int64_t fused_assign_shared_bytes(int d) {
  const int64_t centroid_area = std::max<int64_t>(int64_t{d} * kSlotStride, kPartialFloats);
  return (int64_t{d} * kRowStride + centroid_area + kAssignRows + kAssignSlots) * int64_t{sizeof(float)};
}

// Writes one (problem, row)'s result, `near` holding a global centroid index (or -1) and the
// problem's centroids starting at `lo`: the label within the problem, the distance, and the
// second distance (the best again when the problem has one centroid).
__device__ __forceinline__ void store_nearest(const TwoLowest& near, int64_t lo, int64_t k, int64_t out,
                                              int32_t* labels, float* best_dist, float* second_dist) {
  labels[out] = near.index >= 0 ? static_cast<int32_t>(near.index - lo) : 0;
  best_dist[out] = near.best;
  if (second_dist != nullptr) second_dist[out] = k == 1 ? near.best : near.second;
}

// The merge step of the fused assignment kernels. Thread t of the block takes row
// t % kAssignRows and every (blockDim.x / kAssignRows)-th segment of chunk ch, and folds the
// segment's partials, one per unit of `unit_slots` slots at part_*[row * unit_stride + unit]
// (best, second, and the chunk slot of the best or -1), in slot order into the nearest
// centroid of the segment's problem. A problem spanning chunks (those have their chunks to
// themselves, so the same thread merges all of them) is carried in `running`; at a problem's
// last segment it calls emit(problem, nearest).
template <class Emit>
__device__ __forceinline__ void merge_chunk_segments(int ch, int unit_slots, int unit_stride, const float* part_best,
                                                     const float* part_second, const int32_t* part_slot,
                                                     const int32_t* slots, const AssignSegment* segments,
                                                     const int32_t* chunk_segments, TwoLowest& running, Emit emit) {
  const int t = static_cast<int>(threadIdx.x);
  const int row = t % kAssignRows;
  for (int sg = chunk_segments[ch] + t / kAssignRows; sg < chunk_segments[ch + 1];
       sg += static_cast<int>(blockDim.x) / kAssignRows) {
    const AssignSegment seg = segments[sg];
    TwoLowest here = seg.first ? two_lowest() : running;
    for (int u = seg.slot_begin / unit_slots; u < seg.slot_end / unit_slots; ++u) {
      const int p = row * unit_stride + u;
      const int32_t s = part_slot[p];
      merge_two_lowest(here, TwoLowest{part_best[p], part_second[p], s >= 0 ? slots[s] : -1});
    }
    if (!seg.last) {
      running = here;
      continue;
    }
    emit(seg.problem, here);
  }
}

__global__ void __launch_bounds__(kAssignThreads)
    fused_assign_kernel(const float* x, int64_t ld, int64_t n, int d, const float* x_sq, const float* centroids,
                        int64_t c_ld, const float* c_sq, const int64_t* k_offsets, const int32_t* slot_centroid,
                        const AssignSegment* segments, const int32_t* chunk_segments, int chunks, int32_t* labels,
                        float* best_dist, float* second_dist) {
  COHORT_DYNAMIC_SHARED(float, shared);
  float* xs = shared;                                   // [d][kRowStride]
  float* cs = xs + d * kRowStride;                      // [d][kSlotStride]; then the partials
  const int centroid_area = max(d * kSlotStride, kPartialFloats);
  float* xsq = cs + centroid_area;                      // [kAssignRows]
  float* csq = xsq + kAssignRows;                       // [kAssignSlots]
  float* part_best = cs;                                // [kAssignRows][kLaneStride]
  float* part_second = cs + kAssignRows * kLaneStride;
  int32_t* part_slot = reinterpret_cast<int32_t*>(cs + 2 * kAssignRows * kLaneStride);

  const int t = static_cast<int>(threadIdx.x);
  const int lane = t % kSlotLanes;  // slots lane*4 ..
  const int group = t / kSlotLanes;  // rows group*8 ..
  const int64_t row0 = int64_t{blockIdx.x} * kAssignRows;

  for (int e = t; e < kAssignRows * d; e += blockDim.x) {
    const int r = e / d;
    const int k = e - r * d;
    xs[k * kRowStride + r] = row0 + r < n ? x[(row0 + r) * ld + k] : 0.0f;
  }
  for (int r = t; r < kAssignRows; r += blockDim.x) xsq[r] = row0 + r < n ? x_sq[row0 + r] : 0.0f;

  // The merging thread's (row, segment) and, for a problem spanning chunks, its running result.
  const int merge_row = t % kAssignRows;
  TwoLowest running = two_lowest();

  for (int ch = 0; ch < chunks; ++ch) {
    const int32_t* slots = slot_centroid + int64_t{ch} * kAssignSlots;
    for (int e = t; e < kAssignSlots * d; e += blockDim.x) {
      const int s = e / d;
      const int k = e - s * d;
      const int32_t g = slots[s];
      cs[k * kSlotStride + s] = g >= 0 ? centroids[g * c_ld + k] : 0.0f;
    }
    for (int s = t; s < kAssignSlots; s += blockDim.x) csq[s] = slots[s] >= 0 ? c_sq[slots[s]] : INFINITY;
    __syncthreads();

    float acc[kRowsPerThread][kSlotsPerThread];
    COHORT_UNROLL
    for (int r = 0; r < kRowsPerThread; ++r) {
      COHORT_UNROLL
      for (int c = 0; c < kSlotsPerThread; ++c) acc[r][c] = 0.0f;
    }
    for (int k = 0; k < d; ++k) {
      float xv[kRowsPerThread];
      float cv[kSlotsPerThread];
      load8_aligned(xs + k * kRowStride + group * kRowsPerThread, xv);
      load4_aligned(cs + k * kSlotStride + lane * kSlotsPerThread, cv);
      COHORT_UNROLL
      for (int r = 0; r < kRowsPerThread; ++r) {
        COHORT_UNROLL
        for (int c = 0; c < kSlotsPerThread; ++c) acc[r][c] += xv[r] * cv[c];
      }
    }
    __syncthreads();  // every thread is done with cs before the partials overwrite it

    COHORT_UNROLL
    for (int r = 0; r < kRowsPerThread; ++r) {
      const int row = group * kRowsPerThread + r;
      TwoLowest near = two_lowest();
      COHORT_UNROLL
      for (int c = 0; c < kSlotsPerThread; ++c) {
        const int s = lane * kSlotsPerThread + c;
        offer(near, fmaxf(0.0f, xsq[row] + csq[s] - 2.0f * acc[r][c]), s);
      }
      part_best[row * kLaneStride + lane] = near.best;
      part_second[row * kLaneStride + lane] = near.second;
      part_slot[row * kLaneStride + lane] = near.index;
    }
    __syncthreads();

    const int64_t row = row0 + merge_row;
    merge_chunk_segments(ch, kSlotsPerThread, kLaneStride, part_best, part_second, part_slot, slots, segments,
                         chunk_segments, running, [&](int32_t problem, const TwoLowest& here) {
                           if (row >= n) return;
                           const int64_t lo = k_offsets[problem];
                           store_nearest(here, lo, k_offsets[problem + 1] - lo, problem * n + row, labels,
                                         best_dist, second_dist);
                         });
    __syncthreads();  // the partials are read before the next chunk is staged over them
  }
}

// The default path (and the fused kernel's fallback for d > kFusedMaxDims): dots (total_k x
// rows, centroid-major) = -2 C x^T from cuBLAS for a block of rows; thread i of problem b finds
// the nearest and second-nearest centroid. With kTf32Check the dots came from TF32 tensor
// cores, and the pairs whose nearest the TF32 error could have changed are listed for
// tf32_recheck_kernel (kmeans_tf32_kernels.cuh).
template <bool kTf32Check>
__global__ void argmin_from_dots_kernel(const float* dots, int64_t rows, const float* x_sq, const float* c_sq,
                                        const int64_t* k_offsets, int num_problems, int64_t n, int64_t row0,
                                        int32_t* labels, float* best_dist, float* second_dist, Tf32Check check) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i >= rows) return;
  const float xs = x_sq[row0 + i];
  const float x_error = kTf32Check ? check.error * sqrtf(xs) : 0.0f;
  for (int b = blockIdx.y; b < num_problems; b += gridDim.y) {
    const int64_t lo = k_offsets[b];
    const int64_t hi = k_offsets[b + 1];
    // Local indices; the lower bounds d~ - e only with kTf32Check.
    TwoLowest near = two_lowest();
    TwoLowest lower = two_lowest();
    for (int64_t c = lo; c < hi; ++c) {
      const float dist = fmaxf(0.0f, xs + dots[c * rows + i] + c_sq[c]);
      offer(near, dist, static_cast<int32_t>(c - lo));
      if (kTf32Check) offer(lower, dist - x_error * check.c_norm[c], static_cast<int32_t>(c - lo));
    }
    const int64_t out = b * n + row0 + i;
    store_nearest(near, 0, hi - lo, out, labels, best_dist, second_dist);
    if (kTf32Check && hi - lo > 1) {
      const int32_t label = max(near.index, 0);
      const float others = lower.index == label ? lower.second : lower.best;
      if (others <= near.best + x_error * check.c_norm[lo + label]) list_pair(check, out);
    }
  }
}

COHORT_CUDA_NAMESPACE_END
