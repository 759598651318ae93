// Alternating least squares on the GPU: the launchers of als_kernels.cuh and
// als_cg_split_kernels.cuh. A Cholesky solve uses register tiles up to kTiledMaxFactors factors
// and a global-memory A_u beyond; a CG solve gives short rows a warp, longer ones a block, and
// the longest chunks of many blocks.
#ifndef COHORT_CUDA_EMULATION  // cpu_emulation_runtime.hpp stands in
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>
#endif

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iterator>
#include <optional>
#include <vector>

#include "kernels/backend_checks.hpp"
#include "kernels/cuda/als_cg_split_kernels.cuh"
#include "kernels/cuda/als_dual_kernels.cuh"
#include "kernels/cuda/als_kernels.cuh"
#include "kernels/cuda/cuda_ops.cuh"
#include "kernels/cuda/device_util.cuh"

COHORT_CUDA_NAMESPACE_BEGIN
namespace {

constexpr int64_t kGeneralScratchBytes = int64_t{512} << 20;

// COHORT_ALS_CHOLESKY=general runs the general kernel (session 1's algorithm) for every f, to
// compare it with the register-tiled one on a GPU (benchmarks/gpu_ops does).
bool tiled_cholesky_enabled() { return !env_is("COHORT_ALS_CHOLESKY", "general"); }

// The register-tiled kernel for f <= 128 is built for 3 blocks a multiprocessor (128 registers,
// none spilled): an H200 ran it 22% faster than at 2 blocks (153 registers, 15.6% occupancy,
// latency-bound). COHORT_ALS_CHOLESKY=tiled2 builds for 2, for gpu_ops to time against.
bool tiled_cholesky_three_blocks() { return !env_is("COHORT_ALS_CHOLESKY", "tiled2"); }

// Cholesky rows shorter than f solve the n x n dual system (als_dual_kernels.cuh): fewer
// multiply-adds for any n < f. COHORT_ALS_DUAL=off solves every row in the f x f form, for
// gpu_ops to time against; COHORT_ALS_DUAL_MAX_NNZ=N takes only rows of at most N nonzeros
// (tests use it to send one input to both kernels). -1: no dual rows.
int64_t dual_max_nnz_for(int64_t f) {
  if (env_is("COHORT_ALS_DUAL", "off")) return -1;
  int64_t limit = std::min<int64_t>(f - 1, kDualMaxNnz);
  if (const char* v = std::getenv("COHORT_ALS_DUAL_MAX_NNZ")) {
    const long long forced = std::atoll(v);
    if (forced >= 0) limit = std::min<int64_t>(limit, forced);
  }
  return limit >= 1 ? limit : -1;
}

// COHORT_ALS_BUILD=tensor forms the f x f systems' sum_i w y_i y_i^T (f <= 128) and the dual
// form's K = Z_u Z_u^T on the TF32 tensor cores in split TF32 (als_tensor_build.cuh: FP32's
// accuracy, three MMAs where the FP32 build spends 64 FMAs a thread per nonzero), on sm_80
// and later; opt-in until a GPU has timed it (gpu_ops).
bool tensor_build_enabled(const DeviceContext& ctx) {
  return env_is("COHORT_ALS_BUILD", "tensor") && ctx.properties().major >= 8;
}

// COHORT_ALS_CG=block solves every row with the block-per-row CG kernel, likewise.
bool warp_cg_enabled() { return !env_is("COHORT_ALS_CG", "block"); }

// CG rows longer than a quarter of a block's fair share of the nonzeros (all of them over the
// blocks the GPU holds at once), and than kCgSplitMinNnz, are cut into chunks that many blocks
// walk (als_cg_split_kernels.cuh): a row a block walks alone takes as long as its length, and
// one at the fair share would take as long as all the others together.
// COHORT_ALS_CG_SPLIT_NNZ=N sets the threshold (tests use small ones; chunks are a quarter of
// it, between 32 and kCgSplitMaxChunk); COHORT_ALS_CG_SPLIT=off cuts none, for gpu_ops to
// time against.
constexpr int64_t kCgSplitMinNnz = 2048;
constexpr int64_t kCgSplitMaxChunk = 512;

// The split threshold for rows of `nnz` nonzeros over `resident_blocks`; -1: no split.
int64_t cg_split_threshold(int64_t nnz, int64_t resident_blocks) {
  if (env_is("COHORT_ALS_CG_SPLIT", "off")) return -1;
  if (const char* v = std::getenv("COHORT_ALS_CG_SPLIT_NNZ")) {
    const long long forced = std::atoll(v);
    if (forced > 0) return forced;
  }
  return std::max(kCgSplitMinNnz, nnz / std::max<int64_t>(1, 4 * resident_blocks));
}

// *first = the lowest entry whose value als_value_ok (backend_checks.hpp) rejects: not finite,
// or (implicit) a confidence below 1. Left at ~0 when every value passes.
__global__ void first_bad_value_kernel(const float* values, int64_t nnz, bool implicit, unsigned long long* first) {
  for (int64_t k = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; k < nnz; k += int64_t{gridDim.x} * blockDim.x) {
    const float v = values[k];
    if (!isfinite(v) || (implicit && !(v >= 1.0f))) {
      atomicMin(first, static_cast<unsigned long long>(k));
      return;  // the thread's later entries are higher
    }
  }
}

// Rejects the rows' values as the CPU backend does, before anything is written: one pass over
// the values and one synchronisation.
void check_values(DeviceContext& ctx, const CsrView& rows, bool implicit, const char* op) {
  if (rows.values == nullptr || rows.nnz == 0) return;
  DeviceScratch<unsigned long long> first(ctx, 1);
  COHORT_CUDA_CHECK(cudaMemsetAsync(first.data(), 0xff, sizeof(unsigned long long), ctx.stream()));
  launch_kernel(first_bad_value_kernel, grid_for(ctx, rows.nnz, 256), 256, 0, ctx.stream(), rows.values, rows.nnz,
                implicit, first.data());
  unsigned long long entry = 0;
  COHORT_CUDA_CHECK(cudaMemcpyAsync(&entry, first.data(), sizeof(entry), cudaMemcpyDeviceToHost, ctx.stream()));
  ctx.synchronize();
  if (entry == ~0ull) return;
  float value = 0.0f;
  COHORT_CUDA_CHECK(
      cudaMemcpyAsync(&value, rows.values + entry, sizeof(value), cudaMemcpyDeviceToHost, ctx.stream()));
  ctx.synchronize();
  check_als_value(op, value, static_cast<int64_t>(entry), implicit);
}

// key[u] = the row's length, plus `direct` when the dual form does not take the row: empty, or
// longer than dual_max nonzeros. direct = 0 and dual_max < 0: the length alone.
__global__ void row_keys_kernel(CsrView rows, int64_t dual_max, int64_t direct, int64_t* key, int32_t* id) {
  for (int64_t u = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; u < rows.rows;
       u += int64_t{gridDim.x} * blockDim.x) {
    const int64_t length = rows.indptr[u + 1] - rows.indptr[u];
    const bool dual = length >= 1 && length <= dual_max;  // empty rows cost the f x f kernel nothing
    key[u] = dual ? length : length + direct;
    id[u] = static_cast<int32_t>(u);
  }
}

constexpr int kMaxThresholds = 8;
struct Thresholds {
  int64_t value[kMaxThresholds];
};

// out[t] = the number of the sorted keys above threshold t (they are in descending order).
__global__ void count_above_kernel(const int64_t* sorted_key, int64_t n, Thresholds thresholds, int count,
                                   int64_t* out) {
  const int t = static_cast<int>(threadIdx.x);
  if (blockIdx.x != 0 || t >= count) return;
  int64_t lo = 0;
  int64_t hi = n;
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (sorted_key[mid] > thresholds.value[t]) lo = mid + 1; else hi = mid;
  }
  out[t] = lo;
}

// The key offset of the rows the dual form does not take: a power of two above any length.
int64_t direct_key_offset(int64_t nnz) {
  int64_t offset = 2;
  while (offset <= std::max<int64_t>(nnz, kDualMaxNnz)) offset <<= 1;
  return offset;
}

struct RowOrder {
  DeviceScratch<int32_t> order;  // the rows by descending key, ties by ascending row
  std::vector<int64_t> above;    // how many keys are above each threshold asked for
};

// The rows by descending key (the length; rows the dual form does not take first), ties by
// ascending row (the radix sort is stable); with thresholds, also how many keys are above each
// (one synchronisation).
// dual_max >= 0: rows of 1 to dual_max nonzeros, the dual form's (als_dual_kernels.cuh), are
// keyed by length and the others by length + direct_key_offset.
RowOrder longest_first(DeviceContext& ctx, CsrView rows, const std::vector<int64_t>& thresholds = {},
                       int64_t dual_max = -1) {
  const int64_t n = rows.rows;
  COHORT_CHECK(n <= INT32_MAX, "als_solve: {} rows exceed the int32 range of the GPU solver", n);
  COHORT_CHECK(thresholds.size() <= kMaxThresholds, "als_solve: {} row-length thresholds, at most {}",
               thresholds.size(), kMaxThresholds);
  DeviceScratch<int64_t> key(ctx, n), sorted_key(ctx, n);
  DeviceScratch<int32_t> id(ctx, n), order(ctx, n);
  const int64_t direct = dual_max >= 0 ? direct_key_offset(rows.nnz) : 0;
  const int64_t max_key = direct > 0 ? 2 * direct - 1 : rows.nnz;
  int end_bit = 1;
  while (end_bit < 63 && (int64_t{1} << end_bit) <= max_key) ++end_bit;
  launch_kernel(row_keys_kernel, grid_for(ctx, n, 256), 256, 0, ctx.stream(), rows, dual_max, direct, key.data(),
                id.data());
  run_cub(ctx, [&](void* temp, size_t& bytes) {
    return cub::DeviceRadixSort::SortPairsDescending(temp, bytes, key.data(), sorted_key.data(), id.data(),
                                                     order.data(), n, 0, end_bit, ctx.stream());
  });
  RowOrder out{std::move(order), {}};
  if (!thresholds.empty()) {
    Thresholds t{};
    std::copy(thresholds.begin(), thresholds.end(), t.value);
    const int count = static_cast<int>(thresholds.size());
    DeviceScratch<int64_t> above(ctx, count);
    launch_kernel(count_above_kernel, 1, 32, 0, ctx.stream(), sorted_key.data(), n, t, count, above.data());
    out.above.resize(thresholds.size());
    COHORT_CUDA_CHECK(cudaMemcpyAsync(out.above.data(), above.data(), thresholds.size() * sizeof(int64_t),
                                      cudaMemcpyDeviceToHost, ctx.stream()));
    ctx.synchronize();
  }
  return out;
}

// Enough blocks to fill the device at the kernel's occupancy, at most one per row.
template <class Kernel>
unsigned resident_grid(DeviceContext& ctx, Kernel kernel, int threads, int64_t shared_bytes, int64_t rows) {
  int per_sm = 0;
  COHORT_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads,
                                                                  static_cast<size_t>(shared_bytes)));
  const int64_t resident = std::max<int64_t>(1, int64_t{per_sm} * ctx.properties().multiProcessorCount);
  return static_cast<unsigned>(std::min(resident, rows));
}

template <class Kernel>
void allow_shared(Kernel kernel, int64_t bytes) {
  COHORT_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
}

template <int kMaxThreads, int kMinBlocks = 1, bool kTensorBuild = false>
void launch_cholesky_tiled(DeviceContext& ctx, const SolveArgs& args, const int32_t* order, int64_t count,
                           unsigned long long* next_row, int* flag, unsigned long long* failed) {
  auto kernel = als_cholesky_tiled_kernel<kMaxThreads, kMinBlocks, kTensorBuild>;
  const int threads = tiled_threads(args.f);
  const int64_t shared = tiled_shared_bytes(args.f, kTensorBuild);
  allow_shared(kernel, shared);
  const unsigned grid = resident_grid(ctx, kernel, threads, shared, count);
  launch_kernel(kernel, grid, threads, static_cast<size_t>(shared), ctx.stream(), args, order, count, next_row, flag,
                failed);
}

// The dual form's inputs (als_dual_kernels.cuh): Z = Y R^-T and W = Z R^-1 for
// G = gram + reg I = R R^T. R^-1 comes from the host (inverse_cholesky_factor, f^3 / 3
// multiply-adds in double), the rest from two GEMMs.
struct DualInputs {
  DeviceScratch<float> z;
  DeviceScratch<float> w;
  int64_t ld = 0;
};

// gram (f x f, or null for explicit ratings) on the host: a synchronising copy.
std::vector<float> download_gram(DeviceContext& ctx, const float* gram, int64_t f) {
  std::vector<float> host;
  if (gram == nullptr) return host;
  host.resize(static_cast<std::size_t>(f * f));
  COHORT_CUDA_CHECK(
      cudaMemcpyAsync(host.data(), gram, host.size() * sizeof(float), cudaMemcpyDeviceToHost, ctx.stream()));
  ctx.synchronize();
  return host;
}

DualInputs dual_inputs(DeviceContext& ctx, MatrixView<const float> y, const std::vector<float>& rinv) {
  const int64_t f = y.cols;
  COHORT_CHECK(y.rows <= INT32_MAX && y.ld <= INT32_MAX, "als_solve: y is too large for cuBLAS");
  const int64_t ld = dual_ld(static_cast<int>(f));
  DualInputs out{DeviceScratch<float>(ctx, std::max<int64_t>(1, y.rows) * ld),
                 DeviceScratch<float>(ctx, std::max<int64_t>(1, y.rows) * ld), ld};
  if (y.rows == 0) return out;
  DeviceScratch<float> device_rinv(ctx, f * f);
  // A copy from pageable memory has read the host buffer when it returns.
  COHORT_CUDA_CHECK(cudaMemcpyAsync(device_rinv.data(), rinv.data(), rinv.size() * sizeof(float),
                                    cudaMemcpyHostToDevice, ctx.stream()));
  // Row-major n x f matrices read column-major are their transposes: Z^T = R^-1 Y^T, W^T =
  // R^-T Z^T, and row-major R^-1 read column-major is R^-T.
  const float one = 1.0f;
  const float zero = 0.0f;
  const int fi = static_cast<int>(f);
  const int items = static_cast<int>(y.rows);
  COHORT_CUBLAS_CHECK(cublasSgemm(ctx.cublas(), CUBLAS_OP_T, CUBLAS_OP_N, fi, items, fi, &one, device_rinv.data(), fi,
                                  y.data, static_cast<int>(y.ld), &zero, out.z.data(), static_cast<int>(ld)));
  COHORT_CUBLAS_CHECK(cublasSgemm(ctx.cublas(), CUBLAS_OP_N, CUBLAS_OP_N, fi, items, fi, &one, device_rinv.data(), fi,
                                  out.z.data(), static_cast<int>(ld), &zero, out.w.data(), static_cast<int>(ld)));
  return out;
}

template <int kWarps, bool kTensorBuild = false>
void launch_cholesky_dual(DeviceContext& ctx, const SolveArgs& args, const DualInputs& dual, const int32_t* order,
                          int64_t count, unsigned long long* next_row, int* flag, unsigned long long* failed) {
  auto kernel = als_cholesky_dual_kernel<kWarps, kTensorBuild>;
  const int threads = 32 * kWarps;
  const int64_t shared = dual_shared_bytes(kWarps, kTensorBuild);
  allow_shared(kernel, shared);
  const unsigned grid = resident_grid(ctx, kernel, threads, shared, count);
  launch_kernel(kernel, grid, threads, static_cast<size_t>(shared), ctx.stream(), args,
                DualArgs{dual.z.data(), dual.w.data(), dual.ld}, order, count, next_row, flag, failed);
}

// The rows order[0, count), all of at most dual_max_nnz(warps) nonzeros, in the dual form;
// tensor: K on the tensor cores (up to kDualTensorMaxWarps warps).
void launch_cholesky_dual(DeviceContext& ctx, int warps, bool tensor, const SolveArgs& args, const DualInputs& dual,
                          const int32_t* order, int64_t count, unsigned long long* next_row, int* flag,
                          unsigned long long* failed) {
  static_assert(kDualTensorMaxWarps == 5, "the instances below");
  if (tensor && warps <= kDualTensorMaxWarps) {
    switch (warps) {
      case 1: launch_cholesky_dual<1, true>(ctx, args, dual, order, count, next_row, flag, failed); return;
      case 2: launch_cholesky_dual<2, true>(ctx, args, dual, order, count, next_row, flag, failed); return;
      case 3: launch_cholesky_dual<3, true>(ctx, args, dual, order, count, next_row, flag, failed); return;
      default: launch_cholesky_dual<5, true>(ctx, args, dual, order, count, next_row, flag, failed); return;
    }
  }
  switch (warps) {
    case 1: launch_cholesky_dual<1>(ctx, args, dual, order, count, next_row, flag, failed); break;
    case 2: launch_cholesky_dual<2>(ctx, args, dual, order, count, next_row, flag, failed); break;
    case 3: launch_cholesky_dual<3>(ctx, args, dual, order, count, next_row, flag, failed); break;
    case 5: launch_cholesky_dual<5>(ctx, args, dual, order, count, next_row, flag, failed); break;
    case 9: launch_cholesky_dual<9>(ctx, args, dual, order, count, next_row, flag, failed); break;
    default: launch_cholesky_dual<17>(ctx, args, dual, order, count, next_row, flag, failed); break;
  }
}

// CG on the rows order[0, long_rows), each application of A spread over chunks of their
// nonzeros (als_cg_split_kernels.cuh).
void cg_split_rows(DeviceContext& ctx, const SolveArgs& args, int steps, const int32_t* order, int64_t long_rows,
                   int64_t threshold, int* flag) {
  const int64_t f = args.f;
  const int64_t chunk_nnz = std::clamp<int64_t>(threshold / 4, 32, kCgSplitMaxChunk);
  // Each long row makes at most nnz / chunk_nnz + 1 chunks.
  const int64_t max_chunks = args.rows.nnz / chunk_nnz + long_rows;
  DeviceScratch<int64_t> counts(ctx, long_rows + 1), first(ctx, long_rows + 1);
  DeviceScratch<int32_t> chunk_row(ctx, max_chunks);
  DeviceScratch<float> chunk_sparse(ctx, max_chunks * f), chunk_b(ctx, max_chunks * f);
  DeviceScratch<float> vectors(ctx, 5 * long_rows * f), scalars(ctx, 2 * long_rows);
  DeviceScratch<int> active(ctx, long_rows);
  launch_kernel(cg_split_count_kernel, grid_for(ctx, long_rows + 1, 256), 256, 0, ctx.stream(), args.rows, order,
                long_rows, chunk_nnz, counts.data());
  run_cub(ctx, [&](void* temp, size_t& bytes) {
    return cub::DeviceScan::ExclusiveSum(temp, bytes, counts.data(), first.data(), long_rows + 1, ctx.stream());
  });
  launch_kernel(cg_split_chunk_rows_kernel, grid_for(ctx, long_rows, 256), 256, 0, ctx.stream(), first.data(),
                long_rows, chunk_row.data());
  float* v = vectors.data();
  const int64_t stride = long_rows * f;
  const CgSplit split{long_rows,    chunk_nnz,          first.data(),       chunk_row.data(), chunk_sparse.data(),
                      chunk_b.data(), v,                v + stride,         v + 2 * stride,   v + 3 * stride,
                      v + 4 * stride, scalars.data(),   scalars.data() + long_rows, active.data()};
  const int warps = cg_warps(static_cast<int>(f), static_cast<int64_t>(ctx.properties().sharedMemPerBlockOptin));
  const int64_t shared = cg_shared_bytes(static_cast<int>(f), warps);
  allow_shared(cg_split_sparse_kernel, shared);
  const unsigned sparse_grid = resident_grid(ctx, cg_split_sparse_kernel, 32 * warps, shared, max_chunks);
  const unsigned update_grid = static_cast<unsigned>(std::min<int64_t>(long_rows, 65535));
  for (int step = 0; step <= steps; ++step) {
    launch_kernel(cg_split_sparse_kernel, sparse_grid, 32 * warps, static_cast<size_t>(shared), ctx.stream(), args,
                  order, split, step == 0, flag);
    launch_kernel(cg_split_update_kernel, update_grid, kCgSplitUpdateThreads, 0, ctx.stream(), args, order, split,
                  step, steps);
  }
}

template <int kDims>
void launch_cg_warp(DeviceContext& ctx, const SolveArgs& args, int steps, const int32_t* order, int64_t first,
                    unsigned long long* next_row, int* flag) {
  auto kernel = als_cg_warp_kernel<kDims>;
  const int64_t warps = args.rows.rows - first;
  const unsigned grid = resident_grid(ctx, kernel, kCgWarpThreads, 0, ceil_div(warps, kCgWarpThreads / 32));
  launch_kernel(kernel, grid, kCgWarpThreads, 0, ctx.stream(), args, steps, order, first, next_row, flag);
}

}  // namespace

void gram(DeviceContext& ctx, MatrixView<const float> y, float* out) {
  check_gram_args(y, out);
  const int64_t f = y.cols;
  if (f == 0) return;
  COHORT_CHECK(f <= INT32_MAX && y.rows <= INT32_MAX && y.ld <= INT32_MAX, "gram: y is too large for cuBLAS");
  if (y.rows == 0) {
    COHORT_CUDA_CHECK(cudaMemsetAsync(out, 0, static_cast<size_t>(f * f) * sizeof(float), ctx.stream()));
    return;
  }
  // Row-major y (n x f) read column-major is M = y^T (f x n); out = M M^T (symmetric, so the
  // column-major result is also the row-major one).
  const float one = 1.0f;
  const float zero = 0.0f;
  const int fi = static_cast<int>(f);
  COHORT_CUBLAS_CHECK(cublasSgemm(ctx.cublas(), CUBLAS_OP_N, CUBLAS_OP_T, fi, fi, static_cast<int>(y.rows), &one,
                                  y.data, static_cast<int>(y.ld), y.data, static_cast<int>(y.ld), &zero, out, fi));
}

void als_solve(DeviceContext& ctx, CsrView rows, MatrixView<const float> y, const float* gram, float reg, AlsMode mode,
               SolverKind solver, int cg_steps, MatrixView<float> x) {
  check_als_solve_args(rows, y, gram, reg, mode, solver, cg_steps, x);
  const int64_t f = y.cols;
  COHORT_CHECK(f <= 4096, "als_solve: factors must be in [1, 4096] on the GPU, got {}", f);
  const bool implicit = mode == AlsMode::implicit;
  if (rows.rows == 0) return;
  check_values(ctx, rows, implicit, "als_solve");

  const SolveArgs args{rows, y.data, y.ld, y.rows, implicit ? gram : nullptr, reg, implicit, static_cast<int>(f),
                       x.data, x.ld};
  DeviceFlag flag(ctx);
  const int64_t optin = static_cast<int64_t>(ctx.properties().sharedMemPerBlockOptin);
  const bool tiled = solver == SolverKind::cholesky && f <= kTiledMaxFactors && tiled_cholesky_enabled();
  // CG: rows of at most kCgWarpMaxNnz nonzeros a warp each where f allows, the rest a block each.
  const bool warp_cg = solver == SolverKind::conjugate_gradient && f <= kCgWarpMaxFactors && warp_cg_enabled();
  const int cg_block_warps = cg_warps(static_cast<int>(f), optin);
  int64_t split_threshold = -1;
  if (solver == SolverKind::conjugate_gradient && cg_block_warps >= 1) {
    const int64_t shared = cg_shared_bytes(static_cast<int>(f), cg_block_warps);
    allow_shared(als_cg_kernel, shared);  // before asking how many blocks fit
    int per_sm = 0;
    COHORT_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, als_cg_kernel, 32 * cg_block_warps,
                                                                    static_cast<size_t>(shared)));
    split_threshold = cg_split_threshold(rows.nnz, int64_t{per_sm} * ctx.properties().multiProcessorCount);
  }
  // Cholesky: the rows the f x f form solves (first in the order), then the dual form's in
  // bands of length, one for each instance of its kernel, the longest first.
  // Implicit feedback only: explicit rows' ridge terms differ by their length, and the dual form
  // shares one G among the rows.
  const int64_t dual_max = solver == SolverKind::cholesky && tiled && implicit ? dual_max_nnz_for(f) : -1;
  std::vector<int64_t> thresholds;
  std::vector<int> dual_warps;
  if (solver == SolverKind::conjugate_gradient) {
    if (warp_cg || split_threshold >= 0) thresholds = {warp_cg ? kCgWarpMaxNnz : -1, split_threshold};
  } else if (dual_max >= 0) {
    thresholds.push_back(-1);  // keys above: the direct rows (set below)
    for (int warps : kDualWarpCounts) {
      dual_warps.push_back(warps);
      thresholds.push_back(dual_max_nnz(warps));  // keys above: the rows of the wider instances
      if (dual_max_nnz(warps) >= dual_max) break;
    }
  }
  if (dual_max >= 0) thresholds[0] = direct_key_offset(rows.nnz) - 1;
  RowOrder order = solver == SolverKind::conjugate_gradient || tiled
                       ? longest_first(ctx, rows, thresholds, dual_max)
                       : RowOrder{DeviceScratch<int32_t>(ctx, 0), {}};
  DeviceScratch<unsigned long long> next_row(ctx, 2 + std::size(kDualWarpCounts));
  COHORT_CUDA_CHECK(cudaMemsetAsync(next_row.data(), 0, static_cast<size_t>(next_row.size()) * sizeof(unsigned long long),
                                    ctx.stream()));

  if (solver == SolverKind::cholesky) {
    DeviceScratch<unsigned long long> failed(ctx, 1);
    COHORT_CUDA_CHECK(cudaMemsetAsync(failed.data(), 0xff, sizeof(unsigned long long), ctx.stream()));
    if (tiled) {
      COHORT_CHECK(tiled_shared_bytes(static_cast<int>(f)) <= optin,
                   "als_solve: f = {} needs more shared memory than the device has", f);
      const int64_t direct_rows = dual_max >= 0 ? order.above[0] : rows.rows;
      const int32_t* o = order.order.data();
      auto launch_tiled = [&](int64_t first, int64_t count, unsigned long long* next) {
        if (count <= 0) return;
        if (tensor_build_enabled(ctx) && tensor_build_fits(static_cast<int>(f))) {
          launch_cholesky_tiled<160, 3, true>(ctx, args, o + first, count, next, flag.data(), failed.data());
        } else if (tiled_threads(static_cast<int>(f)) <= 160 && tiled_cholesky_three_blocks()) {
          launch_cholesky_tiled<160, 3>(ctx, args, o + first, count, next, flag.data(), failed.data());
        } else if (tiled_threads(static_cast<int>(f)) <= 160) {
          launch_cholesky_tiled<160>(ctx, args, o + first, count, next, flag.data(), failed.data());
        } else {
          launch_cholesky_tiled<544>(ctx, args, o + first, count, next, flag.data(), failed.data());
        }
      };
      // G goes to the host before the f x f rows are launched, so that R^-1 is computed there
      // while the GPU solves them.
      const std::vector<float> host_gram =
          direct_rows < rows.rows ? download_gram(ctx, args.gram, f) : std::vector<float>{};
      launch_tiled(0, direct_rows, next_row.data());
      std::optional<DualInputs> dual;
      if (direct_rows < rows.rows) {
        const std::optional<std::vector<float>> rinv =
            inverse_cholesky_factor(args.gram != nullptr ? host_gram.data() : nullptr, static_cast<int>(f), reg);
        if (rinv) {
          dual.emplace(dual_inputs(ctx, y, *rinv));
        } else {
          // G is too close to singular: the rest in the f x f form too.
          launch_tiled(direct_rows, rows.rows - direct_rows, next_row.data() + 1);
        }
      }
      if (dual) {
        const bool tensor = tensor_build_enabled(ctx);
        // Band c: keys in (dual_max_nnz(dual_warps[c - 1]), dual_max_nnz(dual_warps[c])], at
        // order[above[c + 1], above[c]) (above[c + 1] counts the direct rows too; for c = 0
        // the band ends with the rows).
        for (std::size_t c = dual_warps.size(); c-- > 0;) {
          const int64_t first = order.above[c + 1];
          const int64_t last = c == 0 ? rows.rows : order.above[c];
          if (last <= first) continue;
          COHORT_CHECK(dual_shared_bytes(dual_warps[c], tensor) <= optin,
                       "als_solve: the dual form's {} warps need more shared memory than the device has",
                       dual_warps[c]);
          launch_cholesky_dual(ctx, dual_warps[c], tensor, args, *dual, o + first, last - first,
                               next_row.data() + 2 + c, flag.data(), failed.data());
        }
      }
    } else {
      const int64_t shared = general_shared_bytes(static_cast<int>(f));
      COHORT_CHECK(shared <= optin, "als_solve: f = {} needs more shared memory than the device has", f);
      const int64_t a_bytes = f * f * static_cast<int64_t>(sizeof(float));
      const int64_t grid =
          std::max<int64_t>(1, std::min({rows.rows, int64_t{1} << 20, kGeneralScratchBytes / a_bytes}));
      DeviceScratch<float> global_a(ctx, grid * f * f);
      allow_shared(als_cholesky_general_kernel, shared);
      launch_kernel(als_cholesky_general_kernel, static_cast<unsigned>(grid), kGeneralThreads,
                    static_cast<size_t>(shared), ctx.stream(), args, global_a.data(), flag.data(), failed.data());
    }
    unsigned long long failed_row = 0;
    COHORT_CUDA_CHECK(
        cudaMemcpyAsync(&failed_row, failed.data(), sizeof(failed_row), cudaMemcpyDeviceToHost, ctx.stream()));
    COHORT_CHECK_STATUS(flag.read() == 0, Status::bad_input, "als_solve: a column index of rows is out of range");
    COHORT_CHECK(failed_row == ~0ull,
                 "als_solve: the normal equations of row {} are not positive definite (reg = {}); use reg > 0",
                 failed_row, reg);
    return;
  }
  // order: the split rows, then the block kernel's, then the warp kernel's.
  const int64_t block_rows = warp_cg ? order.above[0] : rows.rows;
  const int64_t split_rows = std::min(std::max<int64_t>(split_threshold >= 0 ? order.above[1] : 0, 0), block_rows);
  if (block_rows > 0) {
    const int warps = cg_block_warps;
    COHORT_CHECK(warps >= 1, "als_solve: f = {} needs more shared memory than the device has", f);
    if (split_rows > 0)
      cg_split_rows(ctx, args, cg_steps, order.order.data(), split_rows, split_threshold, flag.data());
    if (block_rows > split_rows) {
      const int64_t shared = cg_shared_bytes(static_cast<int>(f), warps);
      allow_shared(als_cg_kernel, shared);
      const unsigned grid = resident_grid(ctx, als_cg_kernel, 32 * warps, shared, block_rows - split_rows);
      launch_kernel(als_cg_kernel, grid, 32 * warps, static_cast<size_t>(shared), ctx.stream(), args, cg_steps,
                    order.order.data() + split_rows, block_rows - split_rows, next_row.data(), flag.data());
    }
  }
  if (block_rows < rows.rows) {
    const int32_t* o = order.order.data();
    unsigned long long* next = next_row.data() + 1;
    switch ((f + 31) / 32) {
      case 1: launch_cg_warp<1>(ctx, args, cg_steps, o, block_rows, next, flag.data()); break;
      case 2: launch_cg_warp<2>(ctx, args, cg_steps, o, block_rows, next, flag.data()); break;
      case 3: launch_cg_warp<3>(ctx, args, cg_steps, o, block_rows, next, flag.data()); break;
      default: launch_cg_warp<4>(ctx, args, cg_steps, o, block_rows, next, flag.data()); break;
    }
  }
  COHORT_CHECK_STATUS(flag.read() == 0, Status::bad_input, "als_solve: a column index of rows is out of range");
}

double als_loss(DeviceContext& ctx, CsrView rows, MatrixView<const float> x, MatrixView<const float> y,
                const float* gram, AlsMode mode) {
  check_als_loss_args(rows, x, y, gram, mode);
  const int64_t f = y.cols;
  const bool implicit = mode == AlsMode::implicit;
  if (rows.rows == 0) return 0.0;
  check_values(ctx, rows, implicit, "als_loss");
  DeviceScratch<double> row_loss(ctx, rows.rows);
  DeviceScratch<double> total(ctx, 1);
  DeviceFlag flag(ctx);
  const unsigned grid = static_cast<unsigned>(std::min<int64_t>(rows.rows, int64_t{1} << 20));
  launch_kernel(als_loss_kernel, grid, kLossThreads, 0, ctx.stream(), rows, x.data, x.ld, y.data, y.ld, y.rows, gram,
                static_cast<int>(f), implicit, row_loss.data(), flag.data());
  launch_kernel(ordered_sum_kernel<kLossThreads>, 1, kLossThreads, 0, ctx.stream(), row_loss.data(), rows.rows,
                total.data());
  double host = 0.0;
  COHORT_CUDA_CHECK(cudaMemcpyAsync(&host, total.data(), sizeof(double), cudaMemcpyDeviceToHost, ctx.stream()));
  COHORT_CHECK_STATUS(flag.read() == 0, Status::bad_input, "als_loss: a column index of rows is out of range");
  return host;
}

COHORT_CUDA_NAMESPACE_END
