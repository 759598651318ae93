// The f x f Cholesky kernel's sum_i w_i y_i y_i^T on the TF32 tensor cores, each input split
// into two TF32 parts (hi + lo, three products: lo hi, hi lo, hi hi), which keeps FP32's
// accuracy: an opt-in build (COHORT_ALS_BUILD=tensor) for the register-tiled kernel of
// als_kernels.cuh (f <= 128), whose long rows (an item's hundreds or thousands of users) spend
// most of their time there, and for the dual form's K = Z_u Z_u^T (als_dual_kernels.cuh).
//
// The staged rows y_i of a chunk (ys, kBuildChunk x gram_stride) are read as the K dimension of
// PTX mma.sync m16n8k8: the output, padded to a multiple of 16, is cut into 16 x 8 blocks, the
// lower triangle's R (R + 1) of them numbered row-block by row-block, and each warp of the block
// accumulates a contiguous run of at most kMaxGramBlocksPerWarp in its fragments. Per 8 nonzeros
// a block costs 3 MMAs and 2 shared loads; the FP32 build spends 64 FMAs a thread per nonzero
// (2,048 a warp) for the same 8 x 8 x 1 share. At the end the fragments go to shared memory
// in the tiled kernel's tile order, where each thread reads its 8 x 8 tile back.
#pragma once

#include "kernels/cuda/als_tiles.cuh"
#include "kernels/cuda/device_functions.cuh"

COHORT_CUDA_NAMESPACE_BEGIN

constexpr int kGramBlockRows = 16;
constexpr int kGramBlockCols = 8;
constexpr int kMaxGramBlocksPerWarp = 16;  // 64 accumulator registers a thread
constexpr int kGramTileStride = 68;        // floats a stored 8 x 8 tile takes: 4 apart in banks

__host__ __device__ constexpr int gram_padded(int f) { return (f + kGramBlockRows - 1) / kGramBlockRows * kGramBlockRows; }
// The row stride of the staged y_i: 8 or 24 modulo 32, so that a fragment's 32 loads (4 rows
// k, 8 columns g) fall in 32 different banks.
__host__ __device__ constexpr int gram_stride(int f) { return gram_padded(f) + 8; }
// 16 x 8 blocks of the lower triangle: row block R holds the column blocks 0 .. 2R + 1.
__host__ __device__ constexpr int gram_blocks(int f) {
  return (gram_padded(f) / kGramBlockRows) * (gram_padded(f) / kGramBlockRows + 1);
}
__host__ __device__ constexpr int gram_blocks_per_warp(int f, int warps) { return (gram_blocks(f) + warps - 1) / warps; }

// This warp's run of blocks: the first's row block and column block, and how many.
struct GramRun {
  int r = 0;
  int c = 0;
  int count = 0;
};

__device__ inline GramRun gram_run(int f, int warp, int warps) {
  const int per = gram_blocks_per_warp(f, warps);
  const int first = warp * per;
  GramRun run;
  run.count = max(0, min(per, gram_blocks(f) - first));
  while ((run.r + 1) * (run.r + 2) <= first) ++run.r;
  run.c = first - run.r * (run.r + 1);
  return run;
}

__device__ __forceinline__ void split_tf32(float v, float& hi, float& lo) {
  hi = tf32_truncate(v);
  lo = tf32_truncate(v - hi);
}

// d[j] += (w . Y)^T Y over the staged rows [0, n) for the warp's run, on rows padded with
// zeros (and zero weights) to a multiple of 8; kWeighted = false: w = 1 (w unread). Every lane
// of the warp calls it.
template <bool kWeighted = true>
__device__ inline void gram_blocks_accumulate(float (&d)[kMaxGramBlocksPerWarp][4], const float* ys, int stride,
                                              const float* w, int n, GramRun run) {
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int g = lane >> 2;
  const int t = lane & 3;
  for (int k0 = 0; k0 < n; k0 += 8) {
    const float* row0 = ys + (k0 + t) * stride;
    const float* row1 = ys + (k0 + t + 4) * stride;
    const float w0 = kWeighted ? w[k0 + t] : 1.0f;
    const float w1 = kWeighted ? w[k0 + t + 4] : 1.0f;
    int r = run.r;
    int c = run.c;
    int loaded = -1;
    float a_hi[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    float a_lo[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    COHORT_UNROLL
    for (int j = 0; j < kMaxGramBlocksPerWarp; ++j) {
      if (j < run.count) {
        if (r != loaded) {  // A[i][k] = w_k y_k[16 r + i]
          const int p = kGramBlockRows * r + g;
          split_tf32(w0 * row0[p], a_hi[0], a_lo[0]);
          split_tf32(w0 * row0[p + 8], a_hi[1], a_lo[1]);
          split_tf32(w1 * row1[p], a_hi[2], a_lo[2]);
          split_tf32(w1 * row1[p + 8], a_hi[3], a_lo[3]);
          loaded = r;
        }
        float b_hi[2];  // B[k][j] = y_k[8 c + j]
        float b_lo[2];
        split_tf32(row0[kGramBlockCols * c + g], b_hi[0], b_lo[0]);
        split_tf32(row1[kGramBlockCols * c + g], b_hi[1], b_lo[1]);
        // The small products first, so that they are not lost against the large one.
        mma_tf32_16x8x8(d[j], a_lo, b_hi);
        mma_tf32_16x8x8(d[j], a_hi, b_lo);
        mma_tf32_16x8x8(d[j], a_hi, b_hi);
        if (++c > 2 * r + 1) {
          ++r;
          c = 0;
        }
      }
    }
  }
}

// The warp's blocks into `tiles`, the lower 8 x 8 tiles of a tile_rows grid in the tiled
// kernel's order (tile_offset, als_kernels.cuh), each kGramTileStride floats: element (p, q)
// of tile (I, J) at tiles[(tile_offset(J) + I - J) * kGramTileStride + 8 (p % 8) + q % 8].
// Elements of tiles above the diagonal or past the grid are left out.
__device__ inline void gram_blocks_store(const float (&d)[kMaxGramBlocksPerWarp][4], GramRun run, int tile_rows,
                                         float* tiles) {
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int g = lane >> 2;
  const int t = lane & 3;
  int r = run.r;
  int c = run.c;
  COHORT_UNROLL
  for (int j = 0; j < kMaxGramBlocksPerWarp; ++j) {
    if (j < run.count) {
      COHORT_UNROLL
      for (int e = 0; e < 4; ++e) {
        const int p = kGramBlockRows * r + g + (e >> 1) * 8;  // d = {(g, 2t), (g, 2t+1), (g+8, 2t), (g+8, 2t+1)}
        const int q = kGramBlockCols * c + 2 * t + (e & 1);
        const int ti = p >> 3;
        const int tj = q >> 3;
        if (ti < tile_rows && tj <= ti) {
          tiles[(tile_offset(tj, tile_rows) + ti - tj) * kGramTileStride + (p & 7) * 8 + (q & 7)] = d[j][e];
        }
      }
      if (++c > 2 * r + 1) {
        ++r;
        c = 0;
      }
    }
  }
}

COHORT_CUDA_NAMESPACE_END
