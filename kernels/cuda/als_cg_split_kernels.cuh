// Conjugate gradient for rows too long for one block: their nonzeros are cut into chunks that
// many blocks walk at once. Launched by als.cu; tested on the CPU emulation
// (backend_diff_emulated_test with COHORT_ALS_CG_SPLIT_NNZ, tests/CMakeLists.txt).
//
// A row longer than kCgWarpMaxNnz is one block's (als_cg_kernel), longest first. A popular
// item is far longer than the rest: in gpu_ops's 140k x 20k set the first item has ~49k
// nonzeros (the next 24k, 19k, ...), which one block walks 4 times (b and A x, then 3 steps)
// kCgInFlight * warps = 32 nonzeros a round, each round a gather of y_i from memory: ~6k
// dependent rounds, at 1.5-2.5 us each 9-15 ms, against the 15 ms an H200 measured for that
// item half-step (a model; the split is not yet timed on a GPU). Here the rows long against a
// block's fair share of the nonzeros (als.cu) are solved together, each
// application of A as two launches: one block per chunk sums its nonzeros' terms
// (cg_sparse_terms) into its own slot, then one block per row adds its chunks' slots in
// chunk order and does the CG step. Nothing is atomic: the result is the same from run to run.
#pragma once

#include <cstdint>

#include "kernels/cuda/als_kernels.cuh"

COHORT_CUDA_NAMESPACE_BEGIN

constexpr int kCgSplitUpdateThreads = 128;

// The long rows' CG state (row j of them is order[j]) and their chunks.
struct CgSplit {
  int64_t rows;           // long rows: order[0, rows)
  int64_t chunk_nnz;      // nonzeros a chunk
  const int64_t* first;   // rows + 1: row j's chunks are [first[j], first[j + 1])
  const int32_t* chunk_row;
  float* chunk_sparse;    // chunks x f: sum of w_i (y_i . v) y_i over the chunk
  float* chunk_b;         // chunks x f: sum of c_i y_i (first application only)
  float* x;               // rows x f each
  float* r;
  float* p;
  float* ap;
  float* b;
  float* rs;              // rows: r . r
  float* tiny;            // rows: (tolerance |b|)^2
  int* active;            // rows: 1 while the row iterates
};

// chunks[j] = the chunks of long row j, and chunks[rows] = 0 (for the exclusive scan).
__global__ void cg_split_count_kernel(CsrView m, const int32_t* order, int64_t rows, int64_t chunk_nnz,
                                      int64_t* chunks) {
  for (int64_t j = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; j <= rows; j += int64_t{gridDim.x} * blockDim.x) {
    if (j == rows) {
      chunks[j] = 0;
      continue;
    }
    const int32_t u = order[j];
    chunks[j] = (m.indptr[u + 1] - m.indptr[u] + chunk_nnz - 1) / chunk_nnz;
  }
}

__global__ void cg_split_chunk_rows_kernel(const int64_t* first, int64_t rows, int32_t* chunk_row) {
  for (int64_t j = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; j < rows; j += int64_t{gridDim.x} * blockDim.x)
    for (int64_t c = first[j]; c < first[j + 1]; ++c) chunk_row[c] = static_cast<int32_t>(j);
}

// One application of A to the active rows' v (x on the first, with b; p after), chunk by
// chunk. Shared layout: v (f), partial and partial_b (warps x f each).
__global__ void __launch_bounds__(kCgMaxWarps * 32)
    cg_split_sparse_kernel(SolveArgs s, const int32_t* order, CgSplit c, bool first_application, int* flag) {
  COHORT_DYNAMIC_SHARED(float, shared);
  const int f = s.f;
  const int warps = blockDim.x >> 5;
  float* v = shared;
  float* partial = v + f;
  float* partial_b = partial + warps * f;
  const int64_t chunks = c.first[c.rows];
  for (int64_t chunk = blockIdx.x; chunk < chunks; chunk += gridDim.x) {
    const int32_t j = c.chunk_row[chunk];
    if (!first_application && c.active[j] == 0) continue;  // the same j for the whole block
    const int32_t u = order[j];
    const int64_t begin = s.rows.indptr[u] + (chunk - c.first[j]) * c.chunk_nnz;
    const int64_t end = min(s.rows.indptr[u + 1], begin + c.chunk_nnz);
    const float* src = first_application ? s.x + u * s.x_ld : c.p + int64_t{j} * f;
    for (int d = threadIdx.x; d < f; d += blockDim.x) v[d] = src[d];
    __syncthreads();
    cg_sparse_terms(s, begin, end, v, partial, first_application ? partial_b : nullptr, flag);
    __syncthreads();
    for (int d = threadIdx.x; d < f; d += blockDim.x) {
      float sum = 0.0f;
      float sum_b = 0.0f;
      for (int w = 0; w < warps; ++w) {
        sum += partial[w * f + d];
        if (first_application) sum_b += partial_b[w * f + d];
      }
      c.chunk_sparse[chunk * f + d] = sum;
      if (first_application) c.chunk_b[chunk * f + d] = sum_b;
    }
    __syncthreads();
  }
}

// out[d] = reg v[d] + [gram v][d] + the sum of row j's chunk slots, for every d, reg the row's
// (row_reg; global memory; ends with a barrier).
__device__ inline void cg_split_apply(const SolveArgs& s, const CgSplit& c, int64_t j, float reg, const float* v,
                                      float* out) {
  const int f = s.f;
  for (int d = threadIdx.x; d < f; d += blockDim.x) {
    float acc = reg * v[d];
    if (s.gram != nullptr)
      for (int e = 0; e < f; ++e) acc += s.gram[e * f + d] * v[e];
    float sparse = 0.0f;
    for (int64_t k = c.first[j]; k < c.first[j + 1]; ++k) sparse += c.chunk_sparse[k * f + d];
    out[d] = acc + sparse;
  }
  __syncthreads();
}

// After the first application (step 0): b, r = b - A x, p = r. After application k >= 1: CG
// step k, as als_cg_kernel takes it, and x written back to the row. A block per long row.
__global__ void __launch_bounds__(kCgSplitUpdateThreads)
    cg_split_update_kernel(SolveArgs s, const int32_t* order, CgSplit c, int step, int steps) {
  __shared__ float reduce[32];
  const int f = s.f;
  const int tid = threadIdx.x;
  for (int64_t j = blockIdx.x; j < c.rows; j += gridDim.x) {
    float* x = c.x + j * f;
    float* r = c.r + j * f;
    float* p = c.p + j * f;
    float* ap = c.ap + j * f;
    float* b = c.b + j * f;
    const int64_t u = order[j];
    float* xu = s.x + u * s.x_ld;
    const float reg = row_reg(s, s.rows.indptr[u], s.rows.indptr[u + 1]);
    if (step == 0) {
      for (int d = tid; d < f; d += blockDim.x) x[d] = xu[d];
      __syncthreads();
      cg_split_apply(s, c, j, reg, x, ap);
      float rs_local = 0.0f;
      float bb_local = 0.0f;
      for (int d = tid; d < f; d += blockDim.x) {
        float bd = 0.0f;
        for (int64_t k = c.first[j]; k < c.first[j + 1]; ++k) bd += c.chunk_b[k * f + d];
        b[d] = bd;
        r[d] = bd - ap[d];
        p[d] = r[d];
        rs_local += r[d] * r[d];
        bb_local += bd * bd;
      }
      const float rs = block_sum_float(rs_local, reduce);
      const float tiny = kCgRelativeTolerance * kCgRelativeTolerance * block_sum_float(bb_local, reduce);
      if (tid == 0) {
        c.rs[j] = rs;
        c.tiny[j] = tiny;
        c.active[j] = steps > 0 && rs > tiny;
      }
      continue;
    }
    if (c.active[j] == 0) continue;  // read by every thread before thread 0 writes it below
    cg_split_apply(s, c, j, reg, p, ap);
    float pap_local = 0.0f;
    for (int d = tid; d < f; d += blockDim.x) pap_local += p[d] * ap[d];
    const float pap = block_sum_float(pap_local, reduce);
    if (!(pap > 0.0f)) {
      if (tid == 0) c.active[j] = 0;
      continue;
    }
    const float rs = c.rs[j];
    const float alpha = rs / pap;
    float next_local = 0.0f;
    for (int d = tid; d < f; d += blockDim.x) {
      x[d] += alpha * p[d];
      xu[d] = x[d];
      r[d] -= alpha * ap[d];
      next_local += r[d] * r[d];
    }
    const float rs_next = block_sum_float(next_local, reduce);
    const float beta = rs_next / rs;
    for (int d = tid; d < f; d += blockDim.x) p[d] = r[d] + beta * p[d];
    if (tid == 0) {
      c.rs[j] = rs_next;
      c.active[j] = step < steps && rs_next > c.tiny[j];
    }
    __syncthreads();
  }
}

COHORT_CUDA_NAMESPACE_END
