// iALS rows with fewer nonzeros than factors, solved in the dual (Woodbury) form: an n x n
// system for a row of n nonzeros instead of the f x f one of als_kernels.cuh. Launched by
// als.cu for implicit feedback only (explicit rows' ridge terms reg n_u differ from row to row,
// where this form shares one G); tested on the CPU through the emulation
// (tests/kernels/als_dual_emulated_test.cpp).
//
// A row's system is (G + Y_u^T D Y_u) x = Y_u^T v, with G = [Y^T Y] + reg I, D = diag(w) the
// weights (c - 1 implicit, 1 explicit) and v the values (c, or the ratings), Y_u the n rows
// of Y the row touches. For any z with (I + D K) z = v, K = Y_u G^-1 Y_u^T,
//   x = G^-1 Y_u^T z,  as  (G + Y_u^T D Y_u) G^-1 Y_u^T z = Y_u^T (I + D K) z = Y_u^T v.
// Entries of weight 0 (the set O) have z_O = v_O. For the others (P), with S = D^1/2 (so
// w >= 0 is required) and z_P = S q,
//   M q = S^-1 v_P - S K_PO v_O,  M = I + S K_PP S,
// M symmetric with eigenvalues >= 1: a Cholesky factorisation never fails on it. (z = v - S q'
// with M q' = S K v is the same algebra, but its subtraction cancels when the row's terms
// dominate G, as explicit ratings with a small uniform reg did when this form served them:
// errors up to 4e-3 where this form kept 7e-4 and the f x f FP32 kernel 1.4e-3.) With G = R R^T (R lower),
// K = Z_u Z_u^T for Z = Y R^-T, and x = sum_i z_i w_i for W = Y G^-1 = Z R^-1. Z and W are
// computed once per half-step (two GEMMs over all of Y); then a row forms
// M from n x n dot products of length f and factors it: n^2 f / 2 + n^3 / 6 multiply-adds,
// against n f^2 / 2 + f^3 / 6 for the f x f system (at f = 128, n = 70: 0.37M against 0.92M).
//
// The block layout is that of the register-tiled kernel: each thread keeps one 8 x 8 tile of
// M's lower triangle in registers, accumulated from Z_u staged transposed in shared memory
// kDualChunk factors at a time, and tiles_cholesky_solve factors and solves in place. The
// block is sized for its rows (kWarps), so that a row of 70 nonzeros (45 tiles) keeps two
// warps busy rather than leaving most of the f x f kernel's five idle: als.cu launches one
// instance for each band of row lengths.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include "kernels/cuda/als_kernels.cuh"
#include "kernels/cuda/als_tensor_build.cuh"

COHORT_CUDA_NAMESPACE_BEGIN

constexpr int kDualChunk = 32;     // factors staged at a time
// Weights at or below this count as 0 (the set O): their w y y^T term is lost against G in
// FP32 (unless G itself is below ~1e-13), and S^-1 of them could overflow.
constexpr float kDualZeroWeight = 1e-20f;
constexpr int kDualMaxNnz = 256;   // the longest row the widest instance holds (32 tile rows)
constexpr int kDualWarpCounts[] = {1, 2, 3, 5, 9, 17};  // the instances als.cu launches

// The most tile rows a block of `threads` threads holds, a tile per thread.
__host__ __device__ constexpr int dual_tile_rows(int threads) {
  int t = 0;
  while (lower_tiles(t + 1) <= threads) ++t;
  return t;
}
// The longest row a block of `warps` warps solves.
__host__ __device__ constexpr int dual_max_nnz(int warps) { return kTile * dual_tile_rows(32 * warps); }
// The staged Z_u^T: [kDualChunk][padded] floats, then K v_O's parts ([padded / 8][padded]);
// with the tensor-core build (als_tensor_build.cuh) at a stride of gram_stride, and then also
// the tiles it stores for each thread to read back.
__host__ __device__ constexpr int dual_staging_floats(int warps, bool tensor_build) {
  return !tensor_build ? kDualChunk * dual_max_nnz(warps)
                       : (kDualChunk * gram_stride(dual_max_nnz(warps)) >
                                  lower_tiles(dual_tile_rows(32 * warps)) * kGramTileStride
                              ? kDualChunk * gram_stride(dual_max_nnz(warps))
                              : lower_tiles(dual_tile_rows(32 * warps)) * kGramTileStride);
}
inline int64_t dual_shared_bytes(int warps, bool tensor_build = false) {
  const int64_t padded = dual_max_nnz(warps);
  // staging; v, sw, b, diag0, inv_diag, item [padded]; two panels [kTile][padded]
  return (dual_staging_floats(warps, tensor_build) + 6 * padded + 2 * kTile * padded) * int64_t{sizeof(float)};
}
// The tensor-core build serves the instances up to 5 warps, and in them the rows whose 16 x 8
// blocks fit a warp's registers (all of the 2- and 5-warp bands, rows of up to 48 and 96
// nonzeros in the 1- and 3-warp ones); the rest of a band is built in FP32.
constexpr int kDualTensorMaxWarps = 5;
__host__ __device__ constexpr bool dual_tensor_row(int n, int warps) {
  return warps <= kDualTensorMaxWarps && gram_blocks_per_warp(n, warps) <= kMaxGramBlocksPerWarp;
}
// Z and W rows are padded to a multiple of 4 floats (never read), so that they stage as float4.
inline int64_t dual_ld(int f) { return (int64_t{f} + 3) / 4 * 4; }

struct DualArgs {
  const float* z;  // y_rows x ld: the rows of Y R^-T
  const float* w;  // y_rows x ld: the rows of Y G^-1
  int64_t ld;      // dual_ld(f)
};

// A pivot of G below this share of its diagonal: G is too close to singular for Z and W in
// FP32 to keep enough correct digits, and every row takes the f x f form, where the row's own
// terms can lift it.
constexpr double kDualPivotRelativeFloor = 1e-6;

// sum_k a[k] b[k] in four independent sums, so that the adds do not wait on each other.
inline double dot_in_four(const double* a, const double* b, std::size_t n) {
  double s[4] = {0.0, 0.0, 0.0, 0.0};
  std::size_t k = 0;
  for (; k + 4 <= n; k += 4) {
    for (std::size_t q = 0; q < 4; ++q) s[q] += a[k + q] * b[k + q];
  }
  for (; k < n; ++k) s[0] += a[k] * b[k];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

// R^-1 (f x f, row-major, lower) for G = gram + reg I = R R^T, or nothing when a pivot falls
// below kDualPivotRelativeFloor of its diagonal (or G is not finite). In double precision, on
// the host: f^3 / 3 multiply-adds once per half-step. gram: f x f, null for explicit ratings.
inline std::optional<std::vector<float>> inverse_cholesky_factor(const float* gram, int f, float reg) {
  const auto n = static_cast<std::size_t>(f);
  auto g = [&](std::size_t i, std::size_t j) {
    return (gram != nullptr ? static_cast<double>(gram[i * n + j]) : 0.0) + (i == j ? double{reg} : 0.0);
  };
  std::vector<double> r(n * n, 0.0);  // row-major lower: rows i and j share their first j entries
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j <= i; ++j) {
      const double a = g(i, j) - dot_in_four(&r[i * n], &r[j * n], j);
      if (i == j) {
        if (!(a > kDualPivotRelativeFloor * g(i, i)) || !std::isfinite(a)) return std::nullopt;
        r[i * n + i] = std::sqrt(a);
      } else {
        r[i * n + j] = a / r[j * n + j];
      }
    }
  }
  // Column j of R^-1 by forward substitution on e_j, kept contiguous (x below), so that each
  // step is a dot product of two contiguous runs; stored transposed, then turned back.
  std::vector<double> x(n, 0.0);
  std::vector<float> inv(n * n, 0.0f);
  for (std::size_t j = 0; j < n; ++j) {
    std::fill(x.begin(), x.end(), 0.0);
    x[j] = 1.0 / r[j * n + j];
    inv[j * n + j] = static_cast<float>(x[j]);
    for (std::size_t i = j + 1; i < n; ++i) {
      x[i] = -dot_in_four(&r[i * n + j], &x[j], i - j) / r[i * n + i];
      inv[i * n + j] = static_cast<float>(x[i]);
    }
  }
  return inv;
}

// Rows order[0, count), each of at most dual_max_nnz(kWarps) nonzeros with weights >= 0 (als.cu
// routes only those here), a block of kWarps warps each, taken from a shared counter. Built
// for 128 registers a thread, as the f <= 128 tiled kernel is: at fewer the acc tile spills.
// kTensorBuild: K on the tensor cores where dual_tensor_row allows (als_tensor_build.cuh; the
// launcher checks sm_80).
template <int kWarps, bool kTensorBuild = false>
__global__ void __launch_bounds__(32 * kWarps, (16 / kWarps > 1 ? 16 / kWarps : 1))
    als_cholesky_dual_kernel(SolveArgs s, DualArgs d, const int32_t* order, int64_t count,
                             unsigned long long* next_row, int* flag, unsigned long long* failed_row) {
  constexpr int kMaxPadded = dual_max_nnz(kWarps);
  COHORT_DYNAMIC_SHARED(float, shared);
  __shared__ unsigned long long slot;
  __shared__ int not_positive_definite;
  float* zt = shared;                               // [kDualChunk][stride]: Z_u's factors, transposed
  float* part = zt;                                 // [tile_rows][tile_rows][kTile], after zt: K v_O's parts
  float* v = zt + dual_staging_floats(kWarps, kTensorBuild);  // [padded]: the values
  float* sw = v + kMaxPadded;                       // [padded]: square roots of the weights, 0 in O
  float* b = sw + kMaxPadded;                       // [padded]: v_O, then M's right side, q, z
  float* diag0 = b + kMaxPadded;                    // [padded]
  float* inv_diag = diag0 + kMaxPadded;             // [padded]
  float* panels = inv_diag + kMaxPadded;            // 2 x [kTile][padded]
  int* item = reinterpret_cast<int*>(panels + 2 * kTile * kMaxPadded);  // [padded]: Y's row, -1 none
  static_assert(kMaxPadded / kTile <= kDualChunk, "part ([tile rows]^2 x kTile) must fit in zt");
  const int f = s.f;
  const int tid = static_cast<int>(threadIdx.x);
  const int lane = tid & 31;
  const int warp = tid >> 5;
  constexpr int kThreads = 32 * kWarps;
  constexpr int kQuads = kDualChunk / 4;                      // float4 a row's chunk of Z has
  constexpr int kQuadsPerWarp = (kQuads + kWarps - 1) / kWarps;  // a lane's loads in flight

  for (;;) {
    const int64_t u = claim_row(count, order, next_row, &slot);
    if (u < 0) break;
    if (tid == 0) not_positive_definite = 0;  // as in the tiled kernel: after claim_row's barriers
    const int64_t begin = s.rows.indptr[u];
    const int n = static_cast<int>(s.rows.indptr[u + 1] - begin);
    COHORT_DEVICE_ASSERT(n <= kMaxPadded);
    float* xu = s.x + u * s.x_ld;
    if (n == 0) {
      for (int e = tid; e < f; e += kThreads) xu[e] = 0.0f;
      continue;
    }
    const int tile_rows = (n + kTile - 1) / kTile;
    const int padded = tile_rows * kTile;
    const bool tensor = kTensorBuild && dual_tensor_row(n, kWarps);  // the same in every thread
    const int stride = tensor ? gram_stride(n) : padded;
    const int staged_cols = tensor ? gram_padded(n) : padded;
    const TileSlot tile = tile_slot(tid, tile_rows);
    const int r0 = tile.ti * kTile;
    const int c0 = tile.tj * kTile;

    // The entries; the padding (and a bad index) has no value and no weight, so it solves to 0.
    for (int t = tid; t < padded; t += kThreads) {
      int i = -1;
      float val = 0.0f;
      if (t < n) {
        const int32_t col = s.rows.indices[begin + t];
        if (col >= 0 && col < s.y_rows) {
          i = col;
          val = csr_value(s.rows.values, begin + t);
        } else {
          atomicOr(flag, kAlsBadIndex);
        }
      }
      item[t] = i;
      v[t] = val;
      const float weight = i >= 0 ? entry_weight(s, val) : 0.0f;
      sw[t] = weight > kDualZeroWeight ? sqrtf(weight) : 0.0f;
      b[t] = sw[t] == 0.0f ? val : 0.0f;  // v_O
    }
    float acc[kTile][kTile];
    COHORT_UNROLL
    for (int r = 0; r < kTile; ++r) {
      COHORT_UNROLL
      for (int c = 0; c < kTile; ++c) acc[r][c] = 0.0f;
    }
    GramRun run;
    float frag[kMaxGramBlocksPerWarp][4];
    if (tensor) {
      run = gram_run(n, warp, kWarps);
      COHORT_UNROLL
      for (int j = 0; j < kMaxGramBlocksPerWarp; ++j) frag[j][0] = frag[j][1] = frag[j][2] = frag[j][3] = 0.0f;
    }
    __syncthreads();

    // K = Z_u Z_u^T on the tiles, kDualChunk factors at a time.
    for (int k0 = 0; k0 < f; k0 += kDualChunk) {
      const int chunk = min(kDualChunk, f - k0);
      // zt[k][t] = Z[item_t][k0 + k]: a lane per entry, so that the stores go to consecutive
      // banks; a lane's loads (16 bytes of its own row each) all issue before its stores.
      for (int t0 = 0; t0 < staged_cols; t0 += 32) {
        const int t = t0 + lane;
        const int i = t < padded ? item[t] : -1;
        float z4[kQuadsPerWarp][4];
        COHORT_UNROLL
        for (int j = 0; j < kQuadsPerWarp; ++j) {
          const int q = warp + j * kWarps;
          z4[j][0] = z4[j][1] = z4[j][2] = z4[j][3] = 0.0f;
          if (i >= 0 && q < kQuads && 4 * q < chunk) load4_aligned(d.z + i * d.ld + k0 + 4 * q, z4[j]);
        }
        if (t < staged_cols) {
          COHORT_UNROLL
          for (int j = 0; j < kQuadsPerWarp; ++j) {
            const int q = warp + j * kWarps;
            COHORT_UNROLL
            for (int e = 0; e < 4; ++e)
              if (q < kQuads && 4 * q + e < chunk) zt[(4 * q + e) * stride + t] = z4[j][e];
          }
        }
      }
      if (tensor) {  // the MMAs take the factors 8 at a time: the rest of the last 8 are zeros
        for (int e = tid; e < (((chunk + 7) & ~7) - chunk) * stride; e += kThreads) zt[chunk * stride + e] = 0.0f;
      }
      __syncthreads();
      if (tensor) {
        gram_blocks_accumulate<false>(frag, zt, stride, nullptr, chunk, run);
      } else if (tile.owner) {
        for (int k = 0; k < chunk; ++k) {
          float p[kTile];
          float q[kTile];
          load8_aligned(zt + k * stride + r0, p);
          load8_aligned(zt + k * stride + c0, q);
          COHORT_UNROLL
          for (int r = 0; r < kTile; ++r) {
            COHORT_UNROLL
            for (int c = 0; c < kTile; ++c) acc[r][c] += p[r] * q[c];
          }
        }
      }
      __syncthreads();  // before the next chunk is staged over zt (and part, after the last)
    }
    if (tensor) {  // the fragments to shared memory in tile order, each thread's tile back
      gram_blocks_store(frag, run, tile_rows, zt);
      __syncthreads();
      if (tile.owner) {
        COHORT_UNROLL
        for (int r = 0; r < kTile; ++r) load8_aligned(zt + tid * kGramTileStride + r * kTile, acc[r]);
      }
      __syncthreads();  // before part is written over the tiles
    }

    // K v_O from the tiles: tile (I, J) gives block I its K_IJ v_O,J and, below the diagonal,
    // block J its K_IJ^T v_O,I; each (block, tile) pair has its own slot of `part`, summed in
    // a fixed order below (no atomics: the result is the same from run to run).
    if (tile.owner) {
      float vi[kTile];
      float vj[kTile];
      load8_aligned(b + r0, vi);
      load8_aligned(b + c0, vj);
      float to_i[kTile];
      float to_j[kTile];
      COHORT_UNROLL
      for (int r = 0; r < kTile; ++r) {
        to_i[r] = 0.0f;
        to_j[r] = 0.0f;
      }
      COHORT_UNROLL
      for (int r = 0; r < kTile; ++r) {
        COHORT_UNROLL
        for (int c = 0; c < kTile; ++c) {
          to_i[r] += acc[r][c] * vj[c];
          to_j[c] += acc[r][c] * vi[r];
        }
      }
      COHORT_UNROLL
      for (int r = 0; r < kTile; ++r) part[(tile.ti * tile_rows + tile.tj) * kTile + r] = to_i[r];
      if (tile.ti != tile.tj) {
        COHORT_UNROLL
        for (int c = 0; c < kTile; ++c) part[(tile.tj * tile_rows + tile.ti) * kTile + c] = to_j[c];
      }
    }
    // M = I + S K S on the tiles (the rows and columns of O are the identity's).
    if (tile.owner) {
      COHORT_UNROLL
      for (int r = 0; r < kTile; ++r) {
        COHORT_UNROLL
        for (int c = 0; c < kTile; ++c) {
          const int p = r0 + r;
          const int q = c0 + c;
          acc[r][c] = acc[r][c] * (sw[p] * sw[q]) + (p == q ? 1.0f : 0.0f);
        }
      }
    }
    __syncthreads();
    // M's right-hand side: S^-1 v - S K v_O on P, 0 on O.
    for (int t = tid; t < padded; t += kThreads) {
      const int block = t / kTile;
      float kv = 0.0f;
      for (int j = 0; j < tile_rows; ++j) kv += part[(block * tile_rows + j) * kTile + t % kTile];
      b[t] = sw[t] > 0.0f ? v[t] / sw[t] - sw[t] * kv : 0.0f;
    }
    __syncthreads();
    if (!tiles_cholesky_solve(acc, tile, tile_rows, b, diag0, inv_diag, panels, &not_positive_definite)) {
      // M's eigenvalues are >= 1: only a non-finite input gets here.
      if (tid == 0) atomicMin(failed_row, static_cast<unsigned long long>(u));
      for (int e = tid; e < f; e += kThreads) xu[e] = 0.0f;
      continue;
    }
    for (int t = tid; t < padded; t += kThreads) b[t] = sw[t] > 0.0f ? sw[t] * b[t] : v[t];  // z
    __syncthreads();
    // x = sum_t z_t W[item_t]: coalesced across the factors, kXInFlight rows in flight.
    constexpr int kXInFlight = 8;
    for (int e = tid; e < f; e += kThreads) {
      float sum[kXInFlight];
      COHORT_UNROLL
      for (int q = 0; q < kXInFlight; ++q) sum[q] = 0.0f;
      int t = 0;
      for (; t + kXInFlight <= n; t += kXInFlight) {
        COHORT_UNROLL
        for (int q = 0; q < kXInFlight; ++q) {
          const int i = item[t + q];
          sum[q] += i >= 0 ? b[t + q] * d.w[i * d.ld + e] : 0.0f;
        }
      }
      for (; t < n; ++t) {
        const int i = item[t];
        sum[0] += i >= 0 ? b[t] * d.w[i * d.ld + e] : 0.0f;
      }
      float total = 0.0f;
      COHORT_UNROLL
      for (int q = 0; q < kXInFlight; ++q) total += sum[q];
      xu[e] = total;
    }
  }
}

COHORT_CUDA_NAMESPACE_END
