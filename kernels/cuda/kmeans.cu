// Batched k-means on the GPU.
//   assign:     dots = -2 C x^T by cuBLAS per row block (centroid-major, so the argmin kernel
//               reads it coalesced), then dist = |x|^2 + dots + |c|^2 per problem; opt-in, for
//               d <= kFusedMaxDims, the distances and each problem's argmin in one kernel
//               (kmeans_assign_kernels.cuh).
//               With tf32, the GEMM runs on TF32 tensor cores and the pairs it cannot decide
//               are rechecked in FP32 (kmeans_tf32_kernels.cuh); with COHORT_KMEANS_ASSIGN=split
//               on TF32 tensor cores with each input split in two TF32 parts, likewise, the
//               MMAs and the argmin fused in one kernel (kmeans_split_tf32_kernels.cuh) for
//               d <= kSplitMaxDims, else through cuBLAS (also COHORT_KMEANS_ASSIGN=split-gemm).
//   accumulate: deterministic without float atomics. The (problem, row) pairs are radix-sorted
//               by (band of rows, global centroid) (stable), each run is cut into fixed pieces
//               summed in row order in double, and the pieces are added in order
//               (kmeans_accumulate_kernels.cuh).
//   k-means++:  kmeans_seeding.cuh.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#ifndef COHORT_CUDA_EMULATION  // cpu_emulation_runtime.hpp stands in
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>
#endif
#include <limits>
#include <vector>

#include "kernels/backend_checks.hpp"
#include "kernels/cuda/cuda_ops.cuh"
#include "kernels/cuda/device_util.cuh"
#include "kernels/cuda/kmeans_accumulate_kernels.cuh"
#include "kernels/cuda/kmeans_assign_kernels.cuh"
#include "kernels/cuda/kmeans_seeding.cuh"
#include "kernels/cuda/kmeans_split_tf32_kernels.cuh"

COHORT_CUDA_NAMESPACE_BEGIN
namespace {

constexpr int64_t kAssignScratchFloats = int64_t{64} << 20;
// Pairs a TF32 row block may list for the FP32 recheck (64 MB); more and the call is redone in
// FP32. Uniform random data, the worst case for near ties, lists 6% of the pairs of the sweep
// k = 2..64 and 13% at k = 1024 (a 20,000-row simulation).
constexpr int64_t kTf32MaxPairs = int64_t{8} << 20;

// COHORT_TF32_RECHECK_PAIRS=N lowers that limit, for a test to reach the FP32 redo.
int64_t tf32_max_pairs() {
  const char* v = std::getenv("COHORT_TF32_RECHECK_PAIRS");
  if (v == nullptr) return kTf32MaxPairs;
  const long long limit = std::atoll(v);
  return limit > 0 ? std::min<int64_t>(limit, kTf32MaxPairs) : kTf32MaxPairs;
}

// Sets the cuBLAS math mode for a scope, then puts the previous one back.
class CublasMathMode {
 public:
  CublasMathMode(DeviceContext& ctx, cublasMath_t mode) : handle_(ctx.cublas()) {
    COHORT_CUBLAS_CHECK(cublasGetMathMode(handle_, &previous_));
    COHORT_CUBLAS_CHECK(cublasSetMathMode(handle_, mode));
  }
  ~CublasMathMode() { cublasSetMathMode(handle_, previous_); }
  CublasMathMode(const CublasMathMode&) = delete;
  CublasMathMode& operator=(const CublasMathMode&) = delete;

 private:
  cublasHandle_t handle_;
  cublasMath_t previous_ = CUBLAS_DEFAULT_MATH;
};

// The default assignment is the one an H200 measured faster (benchmarks/RESULTS.md,
// 2026-12-04): cuBLAS GEMM + argmin beat the fused kernel (12.0 against 14.6 ms for the sweep
// k = 2..64 on 1M x 64, 11.0 against 13.0 ms for k = 1024 on 1M x 128).
// COHORT_KMEANS_ASSIGN=fused selects the fused kernel, for benchmarks/gpu_ops to keep
// measuring it against the default.
bool fused_assign_enabled() { return env_is("COHORT_KMEANS_ASSIGN", "fused"); }

// How the assignment's distances are computed: FP32 (cuBLAS GEMM + argmin, or the fused FP32
// kernel); TF32 (--tf32: the GEMM on TF32 tensor cores); split TF32 by cuBLAS (each input as two
// TF32 parts, one GEMM over 3d columns; COHORT_KMEANS_ASSIGN=split-gemm, or split where the
// fused kernel does not apply); split TF32 fused (COHORT_KMEANS_ASSIGN=split: the MMAs and the
// argmin in one kernel, kmeans_split_tf32_kernels.cuh; d <= kSplitMaxDims on sm_80 and later).
// The split ones are opt-in until a GPU has timed them. The TF32 ones keep FP32's labels by
// redoing in FP32 the pairs their error bound cannot decide.
enum class DistancePath { fp32, tf32, split_tf32_gemm, split_tf32_fused };

bool split_fits(const DeviceContext& ctx, int d, bool presplit) {
  return split_assign_shared_bytes(d, presplit) <= static_cast<int64_t>(ctx.properties().sharedMemPerBlockOptin);
}

bool split_fused_applies(const DeviceContext& ctx, int64_t d) {
  return d <= kSplitMaxDims && ctx.properties().major >= 8 && split_fits(ctx, static_cast<int>(d), false);
}

// How the fused split kernel stages its centroid chunks: already split in TF32 parts (no split
// in the MMA loop), unless one FP32 copy lets more blocks share an SM (at d = 128 on an H100:
// 135 against 101 KB, one block against two) or the parts do not fit at all.
// COHORT_KMEANS_SPLIT_STAGING=presplit|raw forces one, for gpu_ops to time both.
template <bool kPresplit>
int split_blocks_per_sm(int d) {
  const int64_t shared = split_assign_shared_bytes(d, kPresplit);
  COHORT_CUDA_CHECK(cudaFuncSetAttribute(split_tf32_assign_kernel<kPresplit>,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared)));
  int blocks = 0;
  COHORT_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, split_tf32_assign_kernel<kPresplit>,
                                                                  kSplitThreads, static_cast<size_t>(shared)));
  return blocks;
}

bool split_presplit(const DeviceContext& ctx, int d) {
  if (!split_fits(ctx, d, true) || env_is("COHORT_KMEANS_SPLIT_STAGING", "raw")) return false;
  if (env_is("COHORT_KMEANS_SPLIT_STAGING", "presplit")) return true;
  return split_blocks_per_sm<true>(d) >= split_blocks_per_sm<false>(d);
}

DistancePath distance_path(const DeviceContext& ctx, bool tf32, int64_t d) {
  if (tf32) return DistancePath::tf32;
  if (env_is("COHORT_KMEANS_ASSIGN", "split-gemm")) return DistancePath::split_tf32_gemm;
  if (!env_is("COHORT_KMEANS_ASSIGN", "split")) return DistancePath::fp32;
  return split_fused_applies(ctx, d) ? DistancePath::split_tf32_fused : DistancePath::split_tf32_gemm;
}

// COHORT_KMEANS_BANDS=off sums every problem's rows in one band, as before session 6, for
// gpu_ops to time against the banded sums (not yet measured on a GPU).
bool banded_sums_enabled() { return !env_is("COHORT_KMEANS_BANDS", "off"); }

// The device operations seed_kmeans_plus_plus needs, on the context's stream.
struct CudaDevice {
  DeviceContext& ctx;
  template <class T>
  DeviceScratch<T> scratch(int64_t count) {
    return DeviceScratch<T>(ctx, count);
  }
  template <class Kernel, class... Args>
  void launch(Kernel kernel, dim3 grid, dim3 block, Args... args) {
    launch_kernel(kernel, grid, block, 0, ctx.stream(), args...);
  }
  void to_device(void* dst, const void* src, size_t bytes) {
    COHORT_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx.stream()));
  }
  void to_host(void* dst, const void* src, size_t bytes) {  // blocks
    COHORT_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx.stream()));
    ctx.synchronize();
  }
  unsigned grid_for(int64_t n, int block) const { return cuda::grid_for(ctx, n, block); }
};

// The GPU kernels index centroids with int32.
void check_total_k(const char* op, int64_t total_k) {
  COHORT_CHECK(total_k < INT32_MAX, "{}: {} centroids exceed the int32 range", op, total_k);
}

template <class T>
DeviceScratch<T> upload(DeviceContext& ctx, const T* host, int64_t count) {
  DeviceScratch<T> d(ctx, count);
  COHORT_CUDA_CHECK(cudaMemcpyAsync(d.data(), host, static_cast<size_t>(count) * sizeof(T), cudaMemcpyHostToDevice,
                                    ctx.stream()));
  return d;
}

// An AssignPlan (kmeans_assign_kernels.cuh) on the device, for the fused assignment kernels.
struct DevicePlan {
  DeviceScratch<int32_t> slot_centroid;
  DeviceScratch<AssignSegment> segments;
  DeviceScratch<int32_t> chunk_segments;
  int chunks;
};

DevicePlan upload_plan(DeviceContext& ctx, const AssignPlan& plan) {
  return DevicePlan{upload(ctx, plan.slot_centroid.data(), plan.chunks() * int64_t{kAssignSlots}),
                    upload(ctx, plan.segments.data(), static_cast<int64_t>(plan.segments.size())),
                    upload(ctx, plan.chunk_segments.data(), plan.chunks() + int64_t{1}), plan.chunks()};
}

// One block per `rows_per_block` rows, with `shared` bytes of dynamic shared memory allowed.
template <class Kernel>
unsigned fused_assign_blocks(Kernel kernel, int64_t n, int rows_per_block, int64_t shared) {
  COHORT_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared)));
  const int64_t blocks = ceil_div(n, rows_per_block);
  COHORT_CHECK(blocks <= INT32_MAX, "kmeans_assign: {} rows are too many for one launch", n);
  return static_cast<unsigned>(blocks);
}

// The fused split-TF32 assignment, then FP32 for the (problem, row) pairs it lists. False when
// it listed more pairs than it keeps: the data is too tied, and the caller redoes it in FP32.
bool assign_split_fused(DeviceContext& ctx, MatrixView<const float> x, const float* x_sq_norms,
                        MatrixView<const float> centroids, const float* c_sq, const int64_t* k_offsets,
                        const int64_t* device_offsets, int num_problems, int32_t* labels, float* best_dist,
                        float* second_dist) {
  const int64_t n = x.rows;
  const int64_t total_k = centroids.rows;
  const int d = static_cast<int>(x.cols);
  const AssignPlan host_plan = plan_assign(k_offsets, num_problems, kSplitUnitSlots);
  if (host_plan.chunks() == 0) return true;
  const DevicePlan plan = upload_plan(ctx, host_plan);
  DeviceScratch<float> c_norm(ctx, total_k), c_norm_max(ctx, num_problems);
  launch_kernel(sqrt_kernel, grid_for(ctx, total_k, 256), 256, 0, ctx.stream(), c_sq, total_k, c_norm.data());
  launch_kernel(problem_max_kernel, grid_for(ctx, num_problems, 128), 128, 0, ctx.stream(), c_norm.data(),
                device_offsets, num_problems, c_norm_max.data());
  const int64_t capacity = std::min(n * num_problems, tf32_max_pairs());
  DeviceScratch<int64_t> pairs(ctx, capacity);
  DeviceScratch<int> counters(ctx, 2);  // listed, overflow
  COHORT_CUDA_CHECK(cudaMemsetAsync(counters.data(), 0, 2 * sizeof(int), ctx.stream()));
  const Tf32Check check{c_norm.data(), split_tf32_distance_error(d), pairs.data(), counters.data(), capacity,
                        counters.data() + 1};
  const bool presplit = split_presplit(ctx, d);
  const auto kernel = presplit ? split_tf32_assign_kernel<true> : split_tf32_assign_kernel<false>;
  const int64_t shared = split_assign_shared_bytes(d, presplit);
  launch_kernel(kernel, fused_assign_blocks(kernel, n, kSplitRows, shared), kSplitThreads, static_cast<size_t>(shared),
                ctx.stream(), x.data, x.ld, n, d, x_sq_norms, centroids.data, centroids.ld, c_sq, c_norm_max.data(),
                device_offsets, plan.slot_centroid.data(), plan.segments.data(), plan.chunk_segments.data(),
                plan.chunks, labels, best_dist, second_dist, check);
  launch_kernel(fp32_assign_pairs_kernel, grid_for(ctx, capacity * 32, 256), 256, 0, ctx.stream(), x.data, x.ld, d,
                x_sq_norms, centroids.data, centroids.ld, c_sq, device_offsets, n, check, labels, best_dist,
                second_dist);
  int overflow = 0;
  COHORT_CUDA_CHECK(cudaMemcpyAsync(&overflow, counters.data() + 1, sizeof(int), cudaMemcpyDeviceToHost,
                                    ctx.stream()));
  ctx.synchronize();
  return overflow == 0;
}

void assign_with(DeviceContext& ctx, MatrixView<const float> x, const float* x_sq_norms,
                 MatrixView<const float> centroids, const int64_t* k_offsets, int num_problems, int32_t* labels,
                 float* best_dist, float* second_dist, DistancePath path) {
  const int64_t n = x.rows;
  const int64_t total_k = centroids.rows;
  if (n == 0) return;

  DeviceScratch<int64_t> offsets = upload(ctx, k_offsets, num_problems + 1);
  DeviceScratch<float> c_sq(ctx, total_k);
  row_sq_norms(ctx, centroids, c_sq.data());
  if (path == DistancePath::split_tf32_fused) {
    if (!assign_split_fused(ctx, x, x_sq_norms, centroids, c_sq.data(), k_offsets, offsets.data(), num_problems,
                            labels, best_dist, second_dist))
      assign_with(ctx, x, x_sq_norms, centroids, k_offsets, num_problems, labels, best_dist, second_dist,
                  DistancePath::fp32);
    return;
  }
  if (path == DistancePath::fp32 && x.cols <= kFusedMaxDims && fused_assign_enabled()) {
    const AssignPlan host_plan = plan_assign(k_offsets, num_problems);
    if (host_plan.chunks() == 0) return;
    const DevicePlan plan = upload_plan(ctx, host_plan);
    const int d = static_cast<int>(x.cols);
    const int64_t shared = fused_assign_shared_bytes(d);
    launch_kernel(fused_assign_kernel, fused_assign_blocks(fused_assign_kernel, n, kAssignRows, shared),
                  kAssignThreads, static_cast<size_t>(shared), ctx.stream(), x.data, x.ld, n, d, x_sq_norms,
                  centroids.data, centroids.ld, c_sq.data(), offsets.data(), plan.slot_centroid.data(),
                  plan.segments.data(), plan.chunk_segments.data(), plan.chunks, labels, best_dist, second_dist);
    return;
  }
  const bool tf32 = path != DistancePath::fp32;  // either TF32: the recheck follows
  const bool split = path == DistancePath::split_tf32_gemm;
  const int64_t parts_d = 3 * x.cols;  // split TF32's columns
  int64_t block = std::clamp(kAssignScratchFloats / total_k, int64_t{1}, n);
  if (split) block = std::min(block, std::max<int64_t>(1, kAssignScratchFloats / parts_d));
  DeviceScratch<float> dots(ctx, block * total_k);
  DeviceScratch<float> c_parts(ctx, split ? total_k * parts_d : 0), x_parts(ctx, split ? block * parts_d : 0);
  // TF32: the pairs to recheck, listed per row block (kmeans_tf32_kernels.cuh).
  DeviceScratch<float> c_norm(ctx, tf32 ? total_k : 0);
  const int64_t capacity = tf32 ? std::min(block * num_problems, tf32_max_pairs()) : 0;
  DeviceScratch<int64_t> pairs(ctx, capacity);
  DeviceScratch<int> counters(ctx, tf32 ? 2 : 0);  // listed, overflow
  const float error = split ? split_tf32_distance_error(x.cols) : tf32_distance_error(x.cols);
  Tf32Check check{c_norm.data(), error, pairs.data(), counters.data(), capacity, tf32 ? counters.data() + 1 : nullptr};
  if (tf32) {
    launch_kernel(sqrt_kernel, grid_for(ctx, total_k, 256), 256, 0, ctx.stream(), c_sq.data(), total_k, c_norm.data());
    COHORT_CUDA_CHECK(cudaMemsetAsync(counters.data(), 0, 2 * sizeof(int), ctx.stream()));
  }
  const int d_in = static_cast<int>(x.cols);
  if (split) {
    launch_kernel(tf32_split_kernel, grid_for(ctx, total_k * x.cols, 256), 256, 0, ctx.stream(), centroids.data,
                  total_k, centroids.ld, d_in, true, c_parts.data());
  }
  for (int64_t begin = 0; begin < n; begin += block) {
    const int64_t rows = std::min(block, n - begin);
    // Centroid-major: dots[c * rows + i] = -2 c . x_i.
    MatrixView<float> d(dots.data(), total_k, rows, rows);
    {
      const CublasMathMode mode(ctx, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH);
      if (split) {
        launch_kernel(tf32_split_kernel, grid_for(ctx, rows * x.cols, 256), 256, 0, ctx.stream(),
                      x.data + begin * x.ld, rows, x.ld, d_in, false, x_parts.data());
        gemm_nt(ctx, -2.0f, MatrixView<const float>(c_parts.data(), total_k, parts_d, parts_d),
                MatrixView<const float>(x_parts.data(), rows, parts_d, parts_d), 0.0f, d);
      } else {
        gemm_nt(ctx, -2.0f, centroids, x.rows_range(begin, begin + rows), 0.0f, d);
      }
    }
    const dim3 grid(static_cast<unsigned>(ceil_div(rows, 256)), static_cast<unsigned>(std::min(num_problems, 65535)));
    if (!tf32) {
      launch_kernel(argmin_from_dots_kernel<false>, grid, 256, 0, ctx.stream(), dots.data(), rows, x_sq_norms,
                    c_sq.data(), offsets.data(), num_problems, n, begin, labels, best_dist, second_dist, check);
      continue;
    }
    launch_kernel(argmin_from_dots_kernel<true>, grid, 256, 0, ctx.stream(), dots.data(), rows, x_sq_norms,
                  c_sq.data(), offsets.data(), num_problems, n, begin, labels, best_dist, second_dist, check);
    launch_kernel(tf32_recheck_kernel, grid_for(ctx, capacity * 32, 256), 256, 0, ctx.stream(), dots.data(), rows,
                  begin, x.data, x.ld, d_in, x_sq_norms, centroids.data, centroids.ld, c_sq.data(), offsets.data(), n,
                  check, labels, best_dist, second_dist);
    COHORT_CUDA_CHECK(cudaMemsetAsync(counters.data(), 0, sizeof(int), ctx.stream()));
  }
  if (tf32) {
    int overflow = 0;
    COHORT_CUDA_CHECK(cudaMemcpyAsync(&overflow, counters.data() + 1, sizeof(int), cudaMemcpyDeviceToHost,
                                      ctx.stream()));
    ctx.synchronize();
    // More undecided pairs in a block than the list holds: the data is too tied for TF32.
    if (overflow != 0)
      assign_with(ctx, x, x_sq_norms, centroids, k_offsets, num_problems, labels, best_dist, second_dist,
                  DistancePath::fp32);
  }
}

}  // namespace

void kmeans_assign(DeviceContext& ctx, MatrixView<const float> x, const float* x_sq_norms,
                   MatrixView<const float> centroids, const int64_t* k_offsets, int num_problems, int32_t* labels,
                   float* best_dist, float* second_dist, bool tf32) {
  check_kmeans_assign_args(x, x_sq_norms, centroids, k_offsets, num_problems, labels, best_dist);
  check_total_k("kmeans_assign", centroids.rows);
  assign_with(ctx, x, x_sq_norms, centroids, k_offsets, num_problems, labels, best_dist, second_dist,
              distance_path(ctx, tf32, x.cols));
}

void kmeans_accumulate(DeviceContext& ctx, MatrixView<const float> x, const int32_t* labels, const int64_t* k_offsets,
                       int num_problems, double* sums, double* counts) {
  check_kmeans_accumulate_args(x, labels, k_offsets, num_problems, sums, counts);
  const int64_t total_k = k_offsets[num_problems];
  check_total_k("kmeans_accumulate", total_k);
  const int64_t n = x.rows;
  const int64_t d = x.cols;
  if (n == 0) return;
  const int64_t count = n * num_problems;
  COHORT_CHECK(n <= INT32_MAX && count <= INT32_MAX, "kmeans_accumulate: {} rows x {} problems is too many", n,
               num_problems);
  cudaStream_t stream = ctx.stream();
  const int32_t tk = static_cast<int32_t>(total_k);

  DeviceScratch<int64_t> offsets = upload(ctx, k_offsets, num_problems + 1);
  DeviceFlag flag(ctx);
  // Bands of rows whose x fits the L2 cache with room to spare, when several problems read x
  // (kmeans_accumulate_kernels.cuh); one band otherwise, or when the keys would pass int32.
  const int64_t row_bytes = std::max<int64_t>(x.ld, 1) * int64_t{sizeof(float)};
  const int64_t l2_rows = std::max<int64_t>(kPieceRows, static_cast<int64_t>(ctx.properties().l2CacheSize) / 3 / row_bytes);
  int64_t band_rows = num_problems > 1 && banded_sums_enabled() ? l2_rows : n;
  if (ceil_div(n, band_rows) * total_k >= INT32_MAX) band_rows = n;
  const int64_t bands = ceil_div(n, band_rows);
  const int64_t segments = bands * total_k;
  const int32_t seg = static_cast<int32_t>(segments);

  DeviceScratch<int32_t> keys(ctx, count), keys_sorted(ctx, count), rows(ctx, count), rows_sorted(ctx, count);
  launch_kernel(make_keys_kernel, grid_for(ctx, count, 256), 256, 0, stream, labels, offsets.data(), num_problems, n,
                tk, band_rows, seg, keys.data(), rows.data(), flag.data());
  int end_bit = 1;
  while ((int64_t{1} << end_bit) <= segments) ++end_bit;
  run_cub(ctx, [&](void* temp, size_t& bytes) {
    return cub::DeviceRadixSort::SortPairs(temp, bytes, keys.data(), keys_sorted.data(), rows.data(),
                                           rows_sorted.data(), count, 0, end_bit, stream);
  });
  DeviceScratch<int64_t> start(ctx, segments + 1), piece_counts(ctx, segments + 1), piece_offset(ctx, segments + 1);
  launch_kernel(run_starts_kernel, grid_for(ctx, segments + 1, 256), 256, 0, stream, keys_sorted.data(), count, seg,
                start.data());
  COHORT_CUDA_CHECK(
      cudaMemsetAsync(piece_counts.data(), 0, static_cast<size_t>(segments + 1) * sizeof(int64_t), stream));
  launch_kernel(piece_counts_kernel, grid_for(ctx, segments, 256), 256, 0, stream, start.data(), seg,
                piece_counts.data());
  run_cub(ctx, [&](void* temp, size_t& bytes) {
    return cub::DeviceScan::ExclusiveSum(temp, bytes, piece_counts.data(), piece_offset.data(), segments + 1, stream);
  });
  // Every run of length m makes ceil(m / kPieceRows) <= m / kPieceRows + 1 pieces.
  const int64_t max_pieces = count / kPieceRows + segments;
  DeviceScratch<double> piece_sums(ctx, max_pieces * d);
  const int threads = static_cast<int>(std::clamp<int64_t>((d + 31) / 32 * 32, 32, 256));
  if (d > 0) {
    launch_kernel(piece_sums_kernel, static_cast<unsigned>(std::min<int64_t>(max_pieces, int64_t{1} << 20)), threads, 0,
                  stream, x.data, x.ld, d, rows_sorted.data(), start.data(), piece_offset.data(), seg, max_pieces,
                  piece_sums.data());
  }
  launch_kernel(add_pieces_kernel, static_cast<unsigned>(std::min<int64_t>(total_k, int64_t{1} << 20)), threads, 0,
                stream, piece_sums.data(), start.data(), piece_offset.data(), tk, static_cast<int32_t>(bands), d, sums,
                counts);
  COHORT_CHECK(flag.read() == 0, "kmeans_accumulate: a label is outside [0, k) of its problem");
}

void kmeans_finalize(DeviceContext& ctx, const double* sums, const double* counts, MatrixView<float> centroids) {
  check_kmeans_finalize_args(sums, counts, centroids);
  if (centroids.rows == 0 || centroids.cols == 0) return;
  const int64_t e = centroids.rows * centroids.cols;
  launch_kernel(finalize_kernel, grid_for(ctx, e, 256), 256, 0, ctx.stream(), sums, counts, centroids.data,
                centroids.rows, centroids.cols, centroids.ld);
}

void sum_per_problem(DeviceContext& ctx, const float* values, int64_t n, int num_problems, double* out_host) {
  check_sum_per_problem_args(values, n, num_problems, out_host);
  if (num_problems == 0) return;
  if (n == 0) {
    std::fill(out_host, out_host + num_problems, 0.0);
    return;
  }
  DeviceScratch<double> out(ctx, num_problems);
  launch_kernel(sum_per_problem_kernel, static_cast<unsigned>(num_problems), 512, 0, ctx.stream(), values, n,
                out.data());
  COHORT_CUDA_CHECK(cudaMemcpyAsync(out_host, out.data(), static_cast<size_t>(num_problems) * sizeof(double),
                                    cudaMemcpyDeviceToHost, ctx.stream()));
  ctx.synchronize();
}

void kmeans_plus_plus(DeviceContext& ctx, MatrixView<const float> x, const float* x_sq_norms, int k, uint64_t seed,
                      MatrixView<float> centroids) {
  check_kmeans_plus_plus_args(x, x_sq_norms, k, centroids);
  CudaDevice device{ctx};
  seed_kmeans_plus_plus(device, x, x_sq_norms, k, seed, centroids);
  ctx.synchronize();
}

COHORT_CUDA_NAMESPACE_END
