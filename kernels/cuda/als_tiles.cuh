// A symmetric matrix held in 8 x 8 register tiles across a block, a tile per thread, and its
// Cholesky factor-and-solve: shared by the iALS f x f kernel (als_kernels.cuh), the dual form
// (als_dual_kernels.cuh) and the tensor-core build (als_tensor_build.cuh).
#pragma once

#include "kernels/cuda/device_functions.cuh"

COHORT_CUDA_NAMESPACE_BEGIN

constexpr int kTile = 8;
constexpr float kPivotRelativeFloor = 1e-7f;  // a pivot below this share of its diagonal: not positive definite

__host__ __device__ constexpr int lower_tiles(int tile_rows) { return tile_rows * (tile_rows + 1) / 2; }
// The first thread of tile column c (its diagonal tile) when the lower triangle of a
// tile_rows x tile_rows grid is numbered column by column.
__host__ __device__ inline int tile_offset(int c, int tile_rows) { return c * tile_rows - c * (c - 1) / 2; }

// Where one thread's tile lies when the lower triangle of a tile_rows x tile_rows grid of 8 x 8
// tiles is numbered column by column, a tile per thread: thread tile_offset(J) owns the
// diagonal tile of column J, the next ones the tiles below it.
struct TileSlot {
  bool owner = false;  // false: the block has more threads than tiles
  int ti = 0;          // tile row
  int tj = 0;          // tile column, tj <= ti
};

__device__ inline TileSlot tile_slot(int tid, int tile_rows) {
  TileSlot t;
  t.owner = tid < lower_tiles(tile_rows);
  if (!t.owner) return t;
  while (tile_offset(t.tj + 1, tile_rows) <= tid) ++t.tj;
  t.ti = t.tj + tid - tile_offset(t.tj, tile_rows);
  return t;
}

// Factors the symmetric matrix whose lower tiles the block's threads hold in `acc` (tile_rows
// tiles of 8 a side, slots from tile_slot) as L L^T in place, panel by panel, and overwrites
// b[0, 8 tile_rows) with the solution of L L^T x = b. Call after a barrier that follows the
// last write of acc and b. Returns false, in every thread, when a pivot is not finite or falls
// below kPivotRelativeFloor of its diagonal (the matrix is not positive definite); b is then
// undefined. Shared memory: diag0 and inv_diag [8 tile_rows], panels 2 x [8][8 tile_rows].
//
// The diagonal tile's owner factors it, the owners of the tiles below it solve against it,
// every trailing tile subtracts L_IJ L_KJ^T; the triangular solves go the same way. With tiles
// owned column by column, the few threads of a panel's serial steps sit in one or two warps and
// the other warps skip them (in row order every warp held a tile of every column and issued
// every panel's solve: an H200 profile saw 46% of the time waiting at barriers). The
// diagonal's reciprocals go to shared memory once, so the solves multiply instead of dividing.
__device__ inline bool tiles_cholesky_solve(float (&acc)[kTile][kTile], TileSlot slot, int tile_rows, float* b,
                                            float* diag0, float* inv_diag, float* panels,
                                            int* not_positive_definite) {
  const bool owner = slot.owner;
  const int ti = slot.ti;
  const int tj = slot.tj;
  const int padded = tile_rows * kTile;
  const int r0 = ti * kTile;
  const int c0 = tj * kTile;
  if (owner && ti == tj) {
    COHORT_UNROLL
    for (int r = 0; r < kTile; ++r) diag0[r0 + r] = acc[r][r];  // read back only by this thread
  }

  // A = L L^T, panel by panel; panel J lives in panels[J % 2] as [column c][row].
  bool failed = false;
  for (int pj = 0; pj < tile_rows; ++pj) {
    float* panel = panels + (pj & 1) * kTile * padded;
    if (owner && ti == pj && tj == pj) {
      bool ok = true;
      COHORT_UNROLL
      for (int k = 0; k < kTile; ++k) {
        const float pivot = acc[k][k];
        if (!(pivot > kPivotRelativeFloor * diag0[r0 + k]) || !isfinite(pivot)) ok = false;
        // 1 / L_kk in one correctly rounded instruction, not a square root and an IEEE
        // division (each a subroutine on the GPU) on the panel's critical path. A failed
        // row's values are discarded.
        const float p = fmaxf(pivot, FLT_MIN);
        const float inv = __frsqrt_rn(p);
        acc[k][k] = p * inv;
        inv_diag[r0 + k] = inv;
        COHORT_UNROLL
        for (int i = k + 1; i < kTile; ++i) acc[i][k] *= inv;
        COHORT_UNROLL
        for (int i = k + 1; i < kTile; ++i) {
          COHORT_UNROLL
          for (int j = k + 1; j <= i; ++j) acc[i][j] -= acc[i][k] * acc[j][k];
        }
      }
      if (!ok) *not_positive_definite = 1;
      COHORT_UNROLL
      for (int r = 0; r < kTile; ++r) {
        COHORT_UNROLL
        for (int c = 0; c < kTile; ++c) panel[c * padded + r0 + r] = c <= r ? acc[r][c] : 0.0f;
      }
    }
    __syncthreads();
    if (*not_positive_definite != 0) {  // the same value in every thread
      failed = true;
      break;
    }
    const int pivot_row = pj * kTile;
    if (owner && tj == pj && ti > pj) {
      // L_IJ = A_IJ L_JJ^-T: row by row, x_c = (a_c - sum_{k<c} x_k L_ck) / L_cc.
      COHORT_UNROLL
      for (int r = 0; r < kTile; ++r) {
        COHORT_UNROLL
        for (int c = 0; c < kTile; ++c) {
          float x = acc[r][c];
          COHORT_UNROLL
          for (int k = 0; k < c; ++k) x -= acc[r][k] * panel[k * padded + pivot_row + c];
          acc[r][c] = x * inv_diag[pivot_row + c];
        }
      }
      COHORT_UNROLL
      for (int r = 0; r < kTile; ++r) {
        COHORT_UNROLL
        for (int c = 0; c < kTile; ++c) panel[c * padded + r0 + r] = acc[r][c];
      }
    }
    __syncthreads();
    if (owner && tj > pj) {
      // A_IK -= L_IJ L_KJ^T. The next panel goes to the other buffer, so no barrier is
      // needed before its diagonal tile is written.
      COHORT_UNROLL
      for (int k = 0; k < kTile; ++k) {
        float li[kTile];
        float lk[kTile];
        load8_aligned(panel + k * padded + r0, li);
        load8_aligned(panel + k * padded + c0, lk);
        COHORT_UNROLL
        for (int r = 0; r < kTile; ++r) {
          COHORT_UNROLL
          for (int c = 0; c < kTile; ++c) acc[r][c] -= li[r] * lk[c];
        }
      }
    }
  }
  if (failed) return false;

  // L z = b: the diagonal tile's owner solves its block, the tiles below subtract.
  for (int pj = 0; pj < tile_rows; ++pj) {
    if (owner && ti == pj && tj == pj) {
      float z[kTile];
      COHORT_UNROLL
      for (int r = 0; r < kTile; ++r) {
        float x = b[r0 + r];
        COHORT_UNROLL
        for (int k = 0; k < r; ++k) x -= acc[r][k] * z[k];
        z[r] = x * inv_diag[r0 + r];
        b[r0 + r] = z[r];
      }
    }
    __syncthreads();
    if (owner && tj == pj && ti > pj) {
      COHORT_UNROLL
      for (int r = 0; r < kTile; ++r) {
        float sum = 0.0f;
        COHORT_UNROLL
        for (int c = 0; c < kTile; ++c) sum += acc[r][c] * b[c0 + c];
        b[r0 + r] -= sum;
      }
    }
    __syncthreads();
  }
  // L^T x = z, from the last block up.
  for (int pj = tile_rows - 1; pj >= 0; --pj) {
    if (owner && ti == pj && tj == pj) {
      float xs[kTile];
      COHORT_UNROLL
      for (int r = kTile - 1; r >= 0; --r) {
        float x = b[r0 + r];
        COHORT_UNROLL
        for (int k = r + 1; k < kTile; ++k) x -= acc[k][r] * xs[k];
        xs[r] = x * inv_diag[r0 + r];
        b[r0 + r] = xs[r];
      }
    }
    __syncthreads();
    if (owner && ti == pj && tj < pj) {
      COHORT_UNROLL
      for (int c = 0; c < kTile; ++c) {
        float sum = 0.0f;
        COHORT_UNROLL
        for (int r = 0; r < kTile; ++r) sum += acc[r][c] * b[r0 + r];
        b[c0 + c] -= sum;
      }
    }
    __syncthreads();
  }
  return true;
}

COHORT_CUDA_NAMESPACE_END
