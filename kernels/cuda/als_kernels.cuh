// The kernels of alternating least squares (Hu, Koren, Volinsky 2008; Takacs et al. 2011 for
// conjugate gradient) and the launch shapes they need; launched by als.cu, and tested on the
// CPU through the emulation (tests/kernels/als_kernels_emulated_test.cpp).
//
// Each row u solves
//   A_u x_u = b_u,  A_u = [Y^T Y] + reg_u I + sum_i w_ui y_i y_i^T,  b_u = sum_i v_ui y_i,
// with w = c - 1, v = c and reg_u = reg for implicit confidences, w = 1, v = r and
// reg_u = reg n_u for explicit ratings (no Gram term; row_reg). One block solves one row at a
// time and takes the next from a shared counter, walking the rows in the given order (longest
// first, so that the few very popular items do not start last and leave the rest of the GPU
// idle). A row's result does not depend on which block solved it: the output is the same from
// run to run.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/cuda/als_tensor_build.cuh"
#include "kernels/cuda/als_tiles.cuh"
#include "kernels/cuda/device_functions.cuh"
#include "kernels/views.hpp"

COHORT_CUDA_NAMESPACE_BEGIN

constexpr int kAlsBadIndex = 1;

struct SolveArgs {
  CsrView rows;
  const float* y;
  int64_t y_ld;
  int64_t y_rows;
  const float* gram;  // f x f, null for explicit ratings
  float reg;
  bool implicit;
  int f;
  float* x;
  int64_t x_ld;
};

__device__ inline float entry_weight(const SolveArgs& s, float v) { return s.implicit ? v - 1.0f : 1.0f; }
// The ridge term of the row of entries [begin, end): reg for implicit feedback, reg n_u for
// explicit ratings (backend.hpp, AlsMode).
__device__ inline float row_reg(const SolveArgs& s, int64_t begin, int64_t end) {
  return s.implicit ? s.reg : s.reg * static_cast<float>(end - begin);
}

// The next row for this block: order[slot] for slot = atomicAdd(next_row, 1), or -1 when none
// is left. Every thread of the block gets the same answer. `slot` is block-shared scratch.
__device__ inline int64_t claim_row(int64_t rows, const int32_t* order, unsigned long long* next_row,
                                    unsigned long long* slot) {
  if (threadIdx.x == 0) *slot = atomicAdd(next_row, 1ull);
  __syncthreads();
  const unsigned long long s = *slot;
  __syncthreads();
  if (s >= static_cast<unsigned long long>(rows)) return -1;
  return order != nullptr ? order[s] : static_cast<int64_t>(s);
}

// ---- Cholesky with register tiles (f <= kTiledMaxFactors) ----
//
// A_u is cut into 8 x 8 tiles and each thread of the block keeps one tile of the lower triangle
// in registers from start to end: it accumulates the tile of sum_i w y_i y_i^T from the row's
// nonzeros (staged in shared memory kBuildChunk at a time), then the block factors A = L L^T
// by 8-column panels and solves L z = b, L^T x = z (tiles_cholesky_solve). A never leaves the
// registers; the panels pass through shared memory. f is padded to a multiple of 8 with an
// identity block, which solves to zeros. Rows shorter than f solve a smaller system instead
// (als_dual_kernels.cuh).
constexpr int kBuildChunk = 64;
constexpr int kStageInFlight = 4;
constexpr int kTiledMaxFactors = 256;

inline int tiled_tile_rows(int f) { return (f + kTile - 1) / kTile; }
// One thread per lower tile, rounded up to whole warps.
inline int tiled_threads(int f) { return std::max(32, (lower_tiles(tiled_tile_rows(f)) + 31) / 32 * 32); }
// The staged rows: kBuildChunk x padded floats, or with the tensor-core build the larger of
// kBuildChunk x gram_stride(f) and the tiles it stores there for each thread to read back.
__host__ __device__ inline int tiled_staging_floats(int f, bool tensor_build) {
  const int padded = kTile * ((f + kTile - 1) / kTile);
  if (!tensor_build) return kBuildChunk * padded;
  return max(kBuildChunk * gram_stride(f), lower_tiles(padded / kTile) * kGramTileStride);
}
inline int64_t tiled_shared_bytes(int f, bool tensor_build = false) {
  const int64_t padded = int64_t{kTile} * tiled_tile_rows(f);
  // ys, w, v, b, diag0, inv_diag, two panels
  return (tiled_staging_floats(f, tensor_build) + 2 * kBuildChunk + 3 * padded + 2 * kTile * padded) *
         int64_t{sizeof(float)};
}
// The tensor-core build (als_tensor_build.cuh) serves f <= 128 where each warp's share of the
// 16 x 8 blocks fits its registers.
inline bool tensor_build_fits(int f) {
  return f <= 128 && gram_blocks_per_warp(f, tiled_threads(f) / 32) <= kMaxGramBlocksPerWarp;
}

// Rows order[0, count). kMinBlocks > 1 asks ptxas for that many blocks per multiprocessor: at
// f = 128 (160 threads) the kernel takes 153 registers, 2 blocks; with 3 it gets 128.
// kTensorBuild: sum_i w y_i y_i^T on the tensor cores (als_tensor_build.cuh; the launcher
// checks tensor_build_fits and sm_80).
template <int kMaxThreads, int kMinBlocks = 1, bool kTensorBuild = false>
__global__ void __launch_bounds__(kMaxThreads, kMinBlocks)
    als_cholesky_tiled_kernel(SolveArgs s, const int32_t* order, int64_t count, unsigned long long* next_row,
                              int* flag, unsigned long long* failed_row) {
  COHORT_DYNAMIC_SHARED(float, shared);
  __shared__ unsigned long long slot;
  __shared__ int not_positive_definite;
  const int f = s.f;
  const int tile_rows = (f + kTile - 1) / kTile;
  const int padded = tile_rows * kTile;
  // The staged y_i, [kBuildChunk][stride]; with the tensor build, then A's tiles.
  const int stride = kTensorBuild ? gram_stride(f) : padded;
  const int staged_cols = kTensorBuild ? gram_padded(f) : padded;
  float* ys = shared;
  float* w = ys + tiled_staging_floats(f, kTensorBuild);  // [kBuildChunk]
  float* v = w + kBuildChunk;               // [kBuildChunk]
  float* b = v + kBuildChunk;               // [padded]: b, then z, then x
  float* diag0 = b + padded;                // [padded]: A's diagonal before factoring
  float* inv_diag = diag0 + padded;         // [padded]: 1 / L's diagonal
  float* panels = inv_diag + padded;        // 2 x [kTile][padded]: L's column panel, transposed

  const int tid = static_cast<int>(threadIdx.x);
  const int lane = tid & 31;
  const int warp = tid >> 5;
  const int warps = static_cast<int>(blockDim.x) >> 5;
  const TileSlot tile = tile_slot(tid, tile_rows);
  const bool owner = tile.owner;
  const int r0 = tile.ti * kTile;
  const int c0 = tile.tj * kTile;
  float acc[kTile][kTile];
  GramRun run;
  float frag[kMaxGramBlocksPerWarp][4];
  if (kTensorBuild) run = gram_run(f, warp, warps);

  for (;;) {
    const int64_t u = claim_row(count, order, next_row, &slot);
    if (u < 0) break;
    // Reset after claim_row's barriers: every thread has read the previous row's value, and
    // the build below passes at least one barrier before a diagonal tile can set it.
    if (tid == 0) not_positive_definite = 0;
    const int64_t begin = s.rows.indptr[u];
    const int64_t end = s.rows.indptr[u + 1];
    float* xu = s.x + u * s.x_ld;
    if (begin >= end) {
      for (int d = tid; d < f; d += blockDim.x) xu[d] = 0.0f;
      continue;
    }

    // acc = the tile of [gram] + reg_u I (the padding is the identity), to which the build adds;
    // the tensor build adds it when it reads its tiles back.
    const float reg = row_reg(s, begin, end);
    auto gram_tile = [&](int r, int c) {
      const int p = r0 + r;
      const int q = c0 + c;
      float a = 0.0f;
      if (p < f && q < f && s.gram != nullptr) a = s.gram[p * f + q];
      if (p == q) a += p < f ? reg : 1.0f;
      return a;
    };
    COHORT_UNROLL
    for (int r = 0; r < kTile; ++r) {
      COHORT_UNROLL
      for (int c = 0; c < kTile; ++c) acc[r][c] = kTensorBuild ? 0.0f : gram_tile(r, c);
    }
    if (kTensorBuild) {
      COHORT_UNROLL
      for (int j = 0; j < kMaxGramBlocksPerWarp; ++j) frag[j][0] = frag[j][1] = frag[j][2] = frag[j][3] = 0.0f;
    }
    for (int d = tid; d < padded; d += blockDim.x) b[d] = 0.0f;

    for (int64_t chunk = begin; chunk < end; chunk += kBuildChunk) {
      const int n = static_cast<int>(min(static_cast<int64_t>(kBuildChunk), end - chunk));
      // A warp stages kStageInFlight rows at a time, so that their loads overlap.
      for (int t0 = warp; t0 < n; t0 += kStageInFlight * warps) {
        bool ok[kStageInFlight];
        const float* yq[kStageInFlight];
        COHORT_UNROLL
        for (int q = 0; q < kStageInFlight; ++q) {
          const int t = t0 + q * warps;
          const int32_t i = t < n ? s.rows.indices[chunk + t] : 0;
          ok[q] = t < n && i >= 0 && i < s.y_rows;
          if (t < n && !ok[q] && lane == 0) atomicOr(flag, kAlsBadIndex);
          yq[q] = s.y + (ok[q] ? i : 0) * s.y_ld;
          if (t < n && lane == 0) {
            const float val = csr_value(s.rows.values, chunk + t);
            v[t] = ok[q] ? val : 0.0f;
            w[t] = ok[q] ? entry_weight(s, val) : 0.0f;
          }
        }
        for (int d = lane; d < staged_cols; d += 32) {
          float got[kStageInFlight];
          COHORT_UNROLL
          for (int q = 0; q < kStageInFlight; ++q) got[q] = ok[q] && d < f ? yq[q][d] : 0.0f;
          COHORT_UNROLL
          for (int q = 0; q < kStageInFlight; ++q) {
            const int t = t0 + q * warps;
            if (t < n) ys[t * stride + d] = got[q];
          }
        }
      }
      if (kTensorBuild) {
        // The MMAs take the nonzeros 8 at a time: the rest of the last 8 are zeros.
        for (int e = tid; e < ((n + 7) & ~7) - n; e += blockDim.x) w[n + e] = 0.0f;
        for (int e = tid; e < (((n + 7) & ~7) - n) * stride; e += blockDim.x) ys[n * stride + e] = 0.0f;
      }
      __syncthreads();
      for (int d = tid; d < padded; d += blockDim.x) {
        float sum = 0.0f;
        for (int t = 0; t < n; ++t) sum += v[t] * ys[t * stride + d];
        b[d] += sum;
      }
      if (kTensorBuild) {
        gram_blocks_accumulate(frag, ys, stride, w, n, run);
      } else if (owner) {
        for (int t = 0; t < n; ++t) {
          float p[kTile];
          float q[kTile];
          load8_aligned(ys + t * padded + r0, p);
          load8_aligned(ys + t * padded + c0, q);
          const float wt = w[t];
          COHORT_UNROLL
          for (int r = 0; r < kTile; ++r) {
            const float pr = wt * p[r];
            COHORT_UNROLL
            for (int c = 0; c < kTile; ++c) acc[r][c] += pr * q[c];
          }
        }
      }
      __syncthreads();
    }
    if (kTensorBuild) {
      // The fragments to shared memory in tile order (over ys, done with), each thread's tile
      // back, plus [gram] + reg_u I.
      gram_blocks_store(frag, run, tile_rows, ys);
      __syncthreads();
      if (owner) {
        const float* mine = ys + tid * kGramTileStride;
        COHORT_UNROLL
        for (int r = 0; r < kTile; ++r) {
          float row[kTile];
          load8_aligned(mine + r * kTile, row);
          COHORT_UNROLL
          for (int c = 0; c < kTile; ++c) acc[r][c] = row[c] + gram_tile(r, c);
        }
      }
    }
    if (!tiles_cholesky_solve(acc, tile, tile_rows, b, diag0, inv_diag, panels, &not_positive_definite)) {
      if (tid == 0) atomicMin(failed_row, static_cast<unsigned long long>(u));
      for (int d = tid; d < f; d += blockDim.x) xu[d] = 0.0f;
      continue;
    }
    for (int d = tid; d < f; d += blockDim.x) xu[d] = b[d];
  }
}

// ---- Cholesky for any f: A_u formed in a global slice per block ----
//
// For f above kTiledMaxFactors. One block per row (grid-stride); the lower triangle of A_u is
// accumulated element by element and factored column by column.
constexpr int kGeneralThreads = 256;
constexpr int kRankChunk = 32;  // entries staged in shared memory per rank update

inline int64_t general_shared_bytes(int f) {
  return (2 * int64_t{f} + kRankChunk * int64_t{f} + 2 * kRankChunk) * int64_t{sizeof(float)};
}

// Shared layout: b[f] diag0[f] ys[kRankChunk*f] w[kRankChunk] v[kRankChunk]; A in global_a.
__global__ void __launch_bounds__(kGeneralThreads)
    als_cholesky_general_kernel(SolveArgs s, float* global_a, int* flag, unsigned long long* failed_row) {
  COHORT_DYNAMIC_SHARED(float, shared);
  const int f = s.f;
  float* a = global_a + static_cast<int64_t>(blockIdx.x) * f * f;
  float* b = shared;
  float* diag0 = b + f;
  float* ys = diag0 + f;
  float* w = ys + kRankChunk * f;
  float* v = w + kRankChunk;
  const int tid = static_cast<int>(threadIdx.x);
  const int ff = f * f;

  for (int64_t u = blockIdx.x; u < s.rows.rows; u += gridDim.x) {
    const int64_t begin = s.rows.indptr[u];
    const int64_t end = s.rows.indptr[u + 1];
    float* xu = s.x + u * s.x_ld;
    if (begin >= end) {
      for (int d = tid; d < f; d += blockDim.x) xu[d] = 0.0f;
      continue;
    }
    const float reg = row_reg(s, begin, end);
    for (int e = tid; e < ff; e += blockDim.x) {
      const int p = e / f;
      const int q = e - p * f;
      if (q <= p) a[e] = (s.gram != nullptr ? s.gram[e] : 0.0f) + (p == q ? reg : 0.0f);
    }
    for (int d = tid; d < f; d += blockDim.x) b[d] = 0.0f;
    __syncthreads();
    for (int64_t c0 = begin; c0 < end; c0 += kRankChunk) {
      const int n = static_cast<int>(min(static_cast<int64_t>(kRankChunk), end - c0));
      for (int e = tid; e < n * f; e += blockDim.x) {
        const int t = e / f;
        const int d = e - t * f;
        const int32_t i = s.rows.indices[c0 + t];
        const bool ok = i >= 0 && i < s.y_rows;
        if (!ok && d == 0) atomicOr(flag, kAlsBadIndex);
        ys[e] = ok ? s.y[i * s.y_ld + d] : 0.0f;
        if (d == 0) {
          const float val = csr_value(s.rows.values, c0 + t);
          v[t] = val;
          w[t] = entry_weight(s, val);
        }
      }
      __syncthreads();
      for (int d = tid; d < f; d += blockDim.x) {
        float acc = 0.0f;
        for (int t = 0; t < n; ++t) acc += v[t] * ys[t * f + d];
        b[d] += acc;
      }
      for (int e = tid; e < ff; e += blockDim.x) {
        const int p = e / f;
        const int q = e - p * f;
        if (q > p) continue;
        float acc = 0.0f;
        for (int t = 0; t < n; ++t) acc += w[t] * ys[t * f + p] * ys[t * f + q];
        a[e] += acc;
      }
      __syncthreads();
    }
    for (int d = tid; d < f; d += blockDim.x) diag0[d] = a[d * f + d];
    __syncthreads();

    bool ok = true;
    for (int j = 0; j < f; ++j) {
      const float pivot = a[j * f + j];
      if (!(pivot > kPivotRelativeFloor * diag0[j]) || !isfinite(pivot)) {
        ok = false;  // every thread reads the same pivot: the exit is uniform
        break;
      }
      const float ljj = sqrtf(pivot);
      __syncthreads();
      if (tid == 0) a[j * f + j] = ljj;
      for (int i = j + 1 + tid; i < f; i += blockDim.x) a[i * f + j] /= ljj;
      __syncthreads();
      const int m = f - j - 1;
      for (int e = tid; e < m * m; e += blockDim.x) {
        const int i = j + 1 + e / m;
        const int l = j + 1 + e % m;
        if (l <= i) a[i * f + l] -= a[i * f + j] * a[l * f + j];
      }
      __syncthreads();
    }
    if (!ok) {
      if (tid == 0) atomicMin(failed_row, static_cast<unsigned long long>(u));
      for (int d = tid; d < f; d += blockDim.x) xu[d] = 0.0f;
      __syncthreads();
      continue;
    }
    for (int j = 0; j < f; ++j) {
      const float zj = b[j] / a[j * f + j];
      __syncthreads();
      for (int i = j + 1 + tid; i < f; i += blockDim.x) b[i] -= a[i * f + j] * zj;
      if (tid == 0) b[j] = zj;
      __syncthreads();
    }
    for (int j = f - 1; j >= 0; --j) {
      const float xj = b[j] / a[j * f + j];
      __syncthreads();
      for (int i = tid; i < j; i += blockDim.x) b[i] -= a[j * f + i] * xj;
      if (tid == 0) b[j] = xj;
      __syncthreads();
    }
    for (int d = tid; d < f; d += blockDim.x) xu[d] = b[d];
    __syncthreads();
  }
}

// ---- Conjugate gradient ----
//
// A_u is applied without being formed: A v = [gram v] + reg v + sum_i w_i (y_i . v) y_i. Each
// warp takes every warps-th nonzero (two at a time, for the memory latency) and adds into its
// own row of `partial`; the rows are then summed in warp order, so there are no atomics and
// the result is the same from run to run. The first application also accumulates b.
constexpr int kCgMaxWarps = 8;
constexpr int kCgInFlight = 4;
constexpr float kCgRelativeTolerance = 1e-10f;

inline int64_t cg_shared_bytes(int f, int warps) {
  return ((5 + 2 * int64_t{warps}) * f + 32) * int64_t{sizeof(float)};
}
// The most warps (at most kCgMaxWarps) whose shared memory fits in `limit` bytes; 0 if none.
inline int cg_warps(int f, int64_t limit) {
  for (int w = kCgMaxWarps; w >= 1; --w)
    if (cg_shared_bytes(f, w) <= limit) return w;
  return 0;
}

// Block-wide float sum over blockDim.x threads (a multiple of 32); `warp_part` holds 32 floats.
__device__ inline float block_sum_float(float v, float* warp_part) {
  v = warp_sum(v);
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x / 32;
  if (lane == 0) warp_part[warp] = v;
  __syncthreads();
  float total = 0.0f;
  const int warps = blockDim.x / 32;
  for (int k = 0; k < warps; ++k) total += warp_part[k];
  __syncthreads();
  return total;
}

// partial[warp][d] = sum over this warp's nonzeros of w_i (y_i . vin) y_i[d]; when partial_b
// is given, also partial_b[warp][d] = sum of v_i y_i[d]. A warp has kCgInFlight nonzeros in
// flight at a time, so a row one block walks takes its length / (kCgInFlight * warps) times
// the latency of these loads; the longest rows are cut into chunks (als_cg_split_kernels.cuh).
__device__ inline void cg_sparse_terms(const SolveArgs& s, int64_t begin, int64_t end, const float* vin,
                                       float* partial, float* partial_b, int* flag) {
  const int f = s.f;
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int warps = blockDim.x >> 5;
  float* mine = partial + warp * f;
  float* mine_b = partial_b != nullptr ? partial_b + warp * f : nullptr;
  for (int d = lane; d < f; d += 32) {
    mine[d] = 0.0f;
    if (mine_b != nullptr) mine_b[d] = 0.0f;
  }
  for (int64_t k0 = begin + warp; k0 < end; k0 += int64_t{kCgInFlight} * warps) {
    bool ok[kCgInFlight];
    float c[kCgInFlight];
    const float* yq[kCgInFlight];
    COHORT_UNROLL
    for (int q = 0; q < kCgInFlight; ++q) {
      const int64_t k = k0 + int64_t{q} * warps;
      const bool in = k < end;
      const int32_t i = in ? s.rows.indices[k] : 0;
      ok[q] = in && i >= 0 && i < s.y_rows;
      if (lane == 0 && in && !ok[q]) atomicOr(flag, kAlsBadIndex);
      c[q] = ok[q] ? csr_value(s.rows.values, k) : 0.0f;
      yq[q] = s.y + (ok[q] ? i : 0) * s.y_ld;  // a bad index contributes nothing, and y may have no row
    }
    float dot[kCgInFlight];
    COHORT_UNROLL
    for (int q = 0; q < kCgInFlight; ++q) dot[q] = 0.0f;
    for (int d = lane; d < f; d += 32) {
      const float v = vin[d];
      COHORT_UNROLL
      for (int q = 0; q < kCgInFlight; ++q) dot[q] += (ok[q] ? yq[q][d] : 0.0f) * v;
    }
    float scale[kCgInFlight];
    COHORT_UNROLL
    for (int q = 0; q < kCgInFlight; ++q) {
      const float total = warp_sum(dot[q]);  // every lane of the warp, whatever ok[q]
      scale[q] = ok[q] ? entry_weight(s, c[q]) * total : 0.0f;
    }
    for (int d = lane; d < f; d += 32) {
      float add = 0.0f;
      float add_b = 0.0f;
      COHORT_UNROLL
      for (int q = 0; q < kCgInFlight; ++q) {
        const float a = ok[q] ? yq[q][d] : 0.0f;
        add += scale[q] * a;
        add_b += c[q] * a;
      }
      mine[d] += add;
      if (mine_b != nullptr) mine_b[d] += add_b;
    }
  }
}

// out[d] = reg vin[d] + [gram vin][d] + sum_w partial[w][d], reg the row's (row_reg). Call after
// a barrier that follows cg_sparse_terms; ends with one.
__device__ inline void cg_finish_apply(const SolveArgs& s, float reg, const float* vin, const float* partial,
                                       float* out) {
  const int f = s.f;
  const int warps = blockDim.x >> 5;
  for (int d = threadIdx.x; d < f; d += blockDim.x) {
    float acc0 = reg * vin[d];
    float acc1 = 0.0f;
    if (s.gram != nullptr) {
      int e = 0;
      for (; e + 1 < f; e += 2) {  // gram is symmetric: column d read as row d, coalesced
        acc0 += s.gram[e * f + d] * vin[e];
        acc1 += s.gram[(e + 1) * f + d] * vin[e + 1];
      }
      if (e < f) acc0 += s.gram[e * f + d] * vin[e];
    }
    float sparse = 0.0f;
    for (int k = 0; k < warps; ++k) sparse += partial[k * f + d];
    out[d] = (acc0 + acc1) + sparse;
  }
  __syncthreads();
}

// Rows order[0, count), a block each. Shared layout: x r p ap b (f each), partial and
// partial_b (warps x f each), 32 floats.
__global__ void __launch_bounds__(kCgMaxWarps * 32)
    als_cg_kernel(SolveArgs s, int steps, const int32_t* order, int64_t count, unsigned long long* next_row,
                  int* flag) {
  COHORT_DYNAMIC_SHARED(float, shared);
  __shared__ unsigned long long slot;
  const int f = s.f;
  const int warps = blockDim.x >> 5;
  float* x = shared;
  float* r = x + f;
  float* p = r + f;
  float* ap = p + f;
  float* b = ap + f;
  float* partial = b + f;
  float* partial_b = partial + warps * f;
  float* reduce = partial_b + warps * f;
  const int tid = threadIdx.x;
  for (;;) {
    const int64_t u = claim_row(count, order, next_row, &slot);
    if (u < 0) break;
    const int64_t begin = s.rows.indptr[u];
    const int64_t end = s.rows.indptr[u + 1];
    float* xu = s.x + u * s.x_ld;
    if (begin >= end) {
      for (int d = tid; d < f; d += blockDim.x) xu[d] = 0.0f;
      continue;
    }
    const float reg = row_reg(s, begin, end);
    for (int d = tid; d < f; d += blockDim.x) x[d] = xu[d];
    __syncthreads();
    // r = b - A x, starting from the previous iterate.
    cg_sparse_terms(s, begin, end, x, partial, partial_b, flag);
    __syncthreads();
    cg_finish_apply(s, reg, x, partial, ap);
    float rs_local = 0.0f;
    float bb_local = 0.0f;
    for (int d = tid; d < f; d += blockDim.x) {
      float bd = 0.0f;
      for (int k = 0; k < warps; ++k) bd += partial_b[k * f + d];
      b[d] = bd;
      r[d] = bd - ap[d];
      p[d] = r[d];
      rs_local += r[d] * r[d];
      bb_local += bd * bd;
    }
    float rs = block_sum_float(rs_local, reduce);
    const float tiny = kCgRelativeTolerance * kCgRelativeTolerance * block_sum_float(bb_local, reduce);
    for (int step = 0; step < steps && rs > tiny; ++step) {
      cg_sparse_terms(s, begin, end, p, partial, nullptr, flag);
      __syncthreads();
      cg_finish_apply(s, reg, p, partial, ap);
      float pap_local = 0.0f;
      for (int d = tid; d < f; d += blockDim.x) pap_local += p[d] * ap[d];
      const float pap = block_sum_float(pap_local, reduce);
      if (!(pap > 0.0f)) break;
      const float alpha = rs / pap;
      float next_local = 0.0f;
      for (int d = tid; d < f; d += blockDim.x) {
        x[d] += alpha * p[d];
        r[d] -= alpha * ap[d];
        next_local += r[d] * r[d];
      }
      const float rs_next = block_sum_float(next_local, reduce);
      const float beta = rs_next / rs;
      for (int d = tid; d < f; d += blockDim.x) p[d] = r[d] + beta * p[d];
      rs = rs_next;
      __syncthreads();
    }
    for (int d = tid; d < f; d += blockDim.x) xu[d] = x[d];
    __syncthreads();
  }
}

// ---- Conjugate gradient, a warp per row (short rows, f <= kCgWarpMaxFactors) ----
//
// The block kernel above spends most of a short row on barriers and on half-idle block-wide
// steps: on an H200 (Nsight Compute, 140k users with ~70 nonzeros, f = 128) it issued about
// 63k warp instructions a row, half of the SM's issue rate, with a third of the stalls at
// barriers. Here one warp solves one row with x, r, p, A p and b in registers (lane l holds
// dimensions l, l + 32, ...): the Gram product reads G through L1 and broadcasts v[e] by
// shuffle, each nonzero is a warp-wide dot product, and nothing waits for another warp. Rows
// too long for one warp (kCgWarpMaxNnz) stay with the block kernel, which splits them.
constexpr int kCgWarpMaxFactors = 128;  // kDims = f / 32 rounded up, 1..4
// A warp walks its row kCgWarpInFlight nonzeros at a time, so a long row makes a long tail:
// at 1024 the default pipeline's item half-steps (5k items, ~160 nonzeros each) ran 1.5x
// slower than with a block per row on an H200; at 128 the tail stays short of a block's.
constexpr int64_t kCgWarpMaxNnz = 128;
constexpr int kCgWarpThreads = 256;
constexpr int kCgWarpInFlight = 4;

// ap = reg_u v + [G v] + sum_i w_i (y_i . v) y_i over the row's nonzeros [begin, end); with
// kWithB, also b += sum_i c_i y_i.
template <int kDims, bool kWithB>
__device__ inline void cg_warp_apply(const SolveArgs& s, int64_t begin, int64_t end, const float (&v)[kDims],
                                     float (&ap)[kDims], float (&b)[kDims], int* flag) {
  const int f = s.f;
  const int lane = threadIdx.x & 31;
  const float reg = row_reg(s, begin, end);
  COHORT_UNROLL
  for (int j = 0; j < kDims; ++j) ap[j] = reg * v[j];
  if (s.gram != nullptr) {
    COHORT_UNROLL
    for (int jj = 0; jj < kDims; ++jj) {
      for (int t = 0; t < 32; ++t) {
        const int e = jj * 32 + t;
        const float ve = __shfl_sync(0xffffffffu, v[jj], t);
        if (e >= f) break;  // the same e on every lane: the warp leaves together
        const float* g = s.gram + static_cast<int64_t>(e) * f;  // row e = column e (symmetric)
        COHORT_UNROLL
        for (int j = 0; j < kDims; ++j) {
          const int d = lane + 32 * j;
          if (d < f) ap[j] += __ldg(g + d) * ve;
        }
      }
    }
  }
  for (int64_t k0 = begin; k0 < end; k0 += kCgWarpInFlight) {
    const float* yq[kCgWarpInFlight];
    float c[kCgWarpInFlight];
    bool ok[kCgWarpInFlight];
    COHORT_UNROLL
    for (int q = 0; q < kCgWarpInFlight; ++q) {
      const int64_t k = k0 + q;
      const bool in = k < end;
      const int32_t i = in ? s.rows.indices[k] : 0;
      ok[q] = in && i >= 0 && i < s.y_rows;
      if (lane == 0 && in && !ok[q]) atomicOr(flag, kAlsBadIndex);
      c[q] = ok[q] ? csr_value(s.rows.values, k) : 0.0f;
      yq[q] = s.y + (ok[q] ? i : 0) * s.y_ld;
    }
    float yv[kCgWarpInFlight][kDims];
    float dot[kCgWarpInFlight];
    COHORT_UNROLL
    for (int q = 0; q < kCgWarpInFlight; ++q) {
      dot[q] = 0.0f;
      COHORT_UNROLL
      for (int j = 0; j < kDims; ++j) {
        const int d = lane + 32 * j;
        yv[q][j] = ok[q] && d < f ? yq[q][d] : 0.0f;
        dot[q] += yv[q][j] * v[j];
      }
    }
    COHORT_UNROLL
    for (int q = 0; q < kCgWarpInFlight; ++q) {
      const float scale = ok[q] ? entry_weight(s, c[q]) * warp_sum(dot[q]) : 0.0f;
      COHORT_UNROLL
      for (int j = 0; j < kDims; ++j) {
        ap[j] += scale * yv[q][j];
        if (kWithB) b[j] += c[q] * yv[q][j];
      }
    }
  }
}

// Rows order[first, rows) (the short ones: longest first puts them last), one per warp, taken
// from next_row (counting from 0).
template <int kDims>
__global__ void __launch_bounds__(kCgWarpThreads)
    als_cg_warp_kernel(SolveArgs s, int steps, const int32_t* order, int64_t first, unsigned long long* next_row,
                       int* flag) {
  const int f = s.f;
  const int lane = threadIdx.x & 31;
  const int64_t count = s.rows.rows - first;
  for (;;) {
    unsigned long long slot = 0;
    if (lane == 0) slot = atomicAdd(next_row, 1ull);
    slot = __shfl_sync(0xffffffffu, slot, 0);
    if (slot >= static_cast<unsigned long long>(count)) break;
    const int64_t u = order != nullptr ? order[first + static_cast<int64_t>(slot)] : first + static_cast<int64_t>(slot);
    const int64_t begin = s.rows.indptr[u];
    const int64_t end = s.rows.indptr[u + 1];
    float* xu = s.x + u * s.x_ld;
    float x[kDims], r[kDims], p[kDims], ap[kDims], b[kDims];
    COHORT_UNROLL
    for (int j = 0; j < kDims; ++j) {
      const int d = lane + 32 * j;
      x[j] = begin < end && d < f ? xu[d] : 0.0f;
      b[j] = 0.0f;
    }
    if (begin >= end) {
      COHORT_UNROLL
      for (int j = 0; j < kDims; ++j)
        if (lane + 32 * j < f) xu[lane + 32 * j] = 0.0f;
      continue;
    }
    // r = b - A x, starting from the previous iterate.
    cg_warp_apply<kDims, true>(s, begin, end, x, ap, b, flag);
    float rs_local = 0.0f;
    float bb_local = 0.0f;
    COHORT_UNROLL
    for (int j = 0; j < kDims; ++j) {
      r[j] = b[j] - ap[j];
      p[j] = r[j];
      rs_local += r[j] * r[j];
      bb_local += b[j] * b[j];
    }
    float rs = warp_sum(rs_local);
    const float tiny = kCgRelativeTolerance * kCgRelativeTolerance * warp_sum(bb_local);
    for (int step = 0; step < steps && rs > tiny; ++step) {
      cg_warp_apply<kDims, false>(s, begin, end, p, ap, b, flag);
      float pap_local = 0.0f;
      COHORT_UNROLL
      for (int j = 0; j < kDims; ++j) pap_local += p[j] * ap[j];
      const float pap = warp_sum(pap_local);
      if (!(pap > 0.0f)) break;
      const float alpha = rs / pap;
      float next_local = 0.0f;
      COHORT_UNROLL
      for (int j = 0; j < kDims; ++j) {
        x[j] += alpha * p[j];
        r[j] -= alpha * ap[j];
        next_local += r[j] * r[j];
      }
      const float rs_next = warp_sum(next_local);
      const float beta = rs_next / rs;
      COHORT_UNROLL
      for (int j = 0; j < kDims; ++j) p[j] = r[j] + beta * p[j];
      rs = rs_next;
    }
    COHORT_UNROLL
    for (int j = 0; j < kDims; ++j)
      if (lane + 32 * j < f) xu[lane + 32 * j] = x[j];
  }
}

// ---- training loss ----
//
// Per row: implicit  x^T G x + sum_{i in u} [c (1 - s_i)^2 - s_i^2]  (s_i = x_u . y_i), i.e. the
// all-items sum of s_i^2 with each stored entry's term replaced; explicit  sum (r - s_i)^2.
constexpr int kLossThreads = 256;

__global__ void __launch_bounds__(kLossThreads)
    als_loss_kernel(CsrView rows, const float* x, int64_t x_ld, const float* y, int64_t y_ld, int64_t y_rows,
                    const float* gram, int f, bool implicit, double* row_loss, int* flag) {
  __shared__ double part[kLossThreads];
  const int tid = threadIdx.x;
  const int lane = tid & 31;
  for (int64_t u = blockIdx.x; u < rows.rows; u += gridDim.x) {
    const float* xu = x + u * x_ld;
    double local = 0.0;
    if (implicit) {
      for (int d = tid; d < f; d += blockDim.x) {
        float g = 0.0f;
        for (int e = 0; e < f; ++e) g += gram[e * f + d] * xu[e];
        local += static_cast<double>(xu[d]) * g;
      }
    }
    for (int64_t k = rows.indptr[u] + tid / 32; k < rows.indptr[u + 1]; k += blockDim.x / 32) {
      const int32_t i = rows.indices[k];
      const bool ok = i >= 0 && i < y_rows;
      if (!ok && lane == 0) atomicOr(flag, kAlsBadIndex);
      const float* yi = y + (ok ? i : 0) * y_ld;
      float dot = 0.0f;
      for (int d = lane; d < f; d += 32) dot += (ok ? yi[d] : 0.0f) * xu[d];
      const double si = warp_sum(dot);
      const double c = csr_value(rows.values, k);
      if (ok && lane == 0) local += implicit ? c * (1.0 - si) * (1.0 - si) - si * si : (c - si) * (c - si);
    }
    const double total = block_sum_double(local, part);
    if (tid == 0) row_loss[u] = total;
  }
}

COHORT_CUDA_NAMESPACE_END
