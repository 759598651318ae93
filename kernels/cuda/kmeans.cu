// Batched k-means on the GPU.
//   assign:     for d <= kFusedMaxDims the distances and each problem's argmin in one kernel
//               (kmeans_assign_kernels.cuh); above, dots = -2 C x^T by cuBLAS per row block
//               (centroid-major, so the argmin kernel reads it coalesced), then
//               dist = |x|^2 + dots + |c|^2 per problem.
//   accumulate: deterministic without float atomics. Many problems: grouped sums in shared
//               memory (kmeans_accumulate_kernels.cuh). Few: the (problem, row) pairs are
//               radix-sorted by global centroid (stable), each centroid's run is cut into fixed
//               pieces summed in row order in double, and the pieces are added in order.
//   k-means++:  greedy D^2 sampling; every sum is a fixed-order reduction over fixed chunks.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string_view>
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>
#include <limits>
#include <random>
#include <vector>

#include "kernels/backend_checks.hpp"
#include "kernels/cuda/cuda_ops.cuh"
#include "kernels/cuda/device_util.cuh"
#include "kernels/cuda/kmeans_accumulate_kernels.cuh"
#include "kernels/cuda/kmeans_assign_kernels.cuh"

namespace cohort::cuda {
namespace {

constexpr int64_t kAssignScratchFloats = int64_t{64} << 20;
constexpr int kChunkRows = 1024;         // rows per k-means++ chunk (fixed-order partial sums)
constexpr int kChunkThreads = 256;
constexpr int kMaxTrials = 32;

// COHORT_KMEANS_ASSIGN=gemm selects the cuBLAS GEMM + argmin path for every d, to compare the
// two on a GPU (benchmarks/gpu_ops does); anything else, or unset, the fused kernel where d
// allows it.
bool fused_assign_enabled() {
  const char* v = std::getenv("COHORT_KMEANS_ASSIGN");
  return v == nullptr || std::string_view(v) != "gemm";
}

// COHORT_KMEANS_ACCUMULATE=sort keeps the sort-based accumulation for every batch, likewise.
bool grouped_accumulate_enabled() {
  const char* v = std::getenv("COHORT_KMEANS_ACCUMULATE");
  return v == nullptr || std::string_view(v) != "sort";
}

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

// ---- k-means++ ----

struct Trials {
  int count;
  double target[kMaxTrials];   // D^2 draw: the first row whose running sum exceeds it; < 0: fixed
  int64_t fixed[kMaxTrials];   // the row drawn uniformly when target < 0
};

// Block-wide inclusive scan (Hillis-Steele, fixed order) of kChunkThreads doubles in `buf`.
__device__ void block_inclusive_scan(double* buf) {
  for (int o = 1; o < kChunkThreads; o <<= 1) {
    const double add = threadIdx.x >= static_cast<unsigned>(o) ? buf[threadIdx.x - o] : 0.0;
    __syncthreads();
    buf[threadIdx.x] += add;
    __syncthreads();
  }
}

// The first position p in [0, count) where base + running sum of w[0..p] > target, or -1;
// *carry gets the running sum just before p (base + the sum of all values when none).
template <class W>
__device__ int64_t find_crossing(int64_t count, double base, double target, W w, double* buf, int64_t* found,
                                 double* carry) {
  if (threadIdx.x == 0) *found = -1;
  __syncthreads();
  for (int64_t t0 = 0; t0 < count; t0 += kChunkThreads) {
    const int64_t p = t0 + threadIdx.x;
    buf[threadIdx.x] = p < count ? w(p) : 0.0;
    __syncthreads();
    block_inclusive_scan(buf);
    const bool crossed = p < count && base + buf[threadIdx.x] > target;
    const bool first = crossed && (threadIdx.x == 0 || !(base + buf[threadIdx.x - 1] > target));
    if (first) {
      *found = p;
      *carry = base + (threadIdx.x > 0 ? buf[threadIdx.x - 1] : 0.0);
    }
    const double tile = buf[kChunkThreads - 1];
    __syncthreads();
    if (*found >= 0) return *found;
    base += tile;
  }
  if (threadIdx.x == 0) *carry = base;
  __syncthreads();
  return -1;
}

// One block per trial: the D^2 draw (cumulative[i-1] <= target < cumulative[i]) through the
// chunk sums, then within the chunk. Rounding past the end falls back to the last row of
// positive weight, as the CPU does.
__global__ void sample_kernel(Trials trials, const float* closest, const double* chunk_sums, int64_t n,
                              int64_t* cand) {
  __shared__ double buf[kChunkThreads];
  __shared__ int64_t found;
  __shared__ double carry;
  const int t = blockIdx.x;
  if (t >= trials.count) return;
  if (trials.target[t] < 0.0) {
    if (threadIdx.x == 0) cand[t] = trials.fixed[t];
    return;
  }
  const double target = trials.target[t];
  const int64_t chunks = (n + kChunkRows - 1) / kChunkRows;
  int64_t row = -1;
  const int64_t chunk = find_crossing(chunks, 0.0, target, [&](int64_t c) { return chunk_sums[c]; }, buf, &found, &carry);
  if (chunk >= 0) {
    const double before = carry;
    __syncthreads();
    const int64_t lo = chunk * kChunkRows;
    const int64_t len = min(static_cast<int64_t>(kChunkRows), n - lo);
    const int64_t within = find_crossing(
        len, before, target, [&](int64_t p) { return static_cast<double>(closest[lo + p]); }, buf, &found, &carry);
    // Rounding between the two levels: the chunk's last row of positive weight.
    row = within >= 0 ? lo + within : lo + len - 1;
    if (within < 0 && threadIdx.x == 0) {
      while (row > lo && !(closest[row] > 0.0f)) --row;
    }
  }
  if (threadIdx.x == 0) {
    if (row < 0) {
      row = n - 1;
      while (row > 0 && !(closest[row] > 0.0f)) --row;
    }
    cand[t] = row;
  }
}

// dist[l * n + i] = max(0, |x_i|^2 + |x_c|^2 - 2 x_i . x_c) for the trial rows c = cand[l]; a
// warp per row.
__global__ void trial_distances_kernel(const float* x, int64_t ld, int64_t n, int64_t d, const float* x_sq,
                                       const int64_t* cand, int trials, float* dist) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t{gridDim.x} * (blockDim.x / 32);
  for (int64_t i = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / 32; i < n; i += warps) {
    const float* xi = x + i * ld;
    for (int l = 0; l < trials; ++l) {
      const int64_t c = cand[l];
      const float* xc = x + c * ld;
      float dot = 0.0f;
      for (int64_t j = lane; j < d; j += 32) dot += xi[j] * xc[j];
      dot = warp_sum(dot);
      if (lane == 0) dist[l * n + i] = c == i ? 0.0f : fmaxf(0.0f, x_sq[i] + x_sq[c] - 2.0f * dot);
    }
  }
}

// Per chunk and trial: sum of min(closest, dist) over the chunk's rows, fixed order.
__global__ void trial_potentials_kernel(const float* closest, const float* dist, int64_t n, int trials,
                                        double* chunk_pot) {
  __shared__ double part[kChunkThreads];
  const int64_t chunks = (n + kChunkRows - 1) / kChunkRows;
  for (int64_t ch = blockIdx.x; ch < chunks; ch += gridDim.x) {
    const int64_t lo = ch * kChunkRows;
    const int64_t hi = min(lo + kChunkRows, n);
    for (int l = 0; l < trials; ++l) {
      double local = 0.0;
      for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) local += fminf(closest[i], dist[l * n + i]);
      const double total = block_sum_double(local, part);
      if (threadIdx.x == 0) chunk_pot[l * chunks + ch] = total;
    }
  }
}

// One block: the trial of least potential (ties: the first), its row in *chosen.
__global__ void choose_trial_kernel(const double* chunk_pot, int64_t chunks, int trials, const int64_t* cand,
                                    int* best_trial, int64_t* chosen) {
  __shared__ double part[kChunkThreads];
  double best = INFINITY;
  int best_l = 0;
  for (int l = 0; l < trials; ++l) {
    double local = 0.0;
    for (int64_t c = threadIdx.x; c < chunks; c += blockDim.x) local += chunk_pot[l * chunks + c];
    const double pot = block_sum_double(local, part);
    if (pot < best) {
      best = pot;
      best_l = l;
    }
  }
  if (threadIdx.x == 0) {
    *best_trial = best_l;
    *chosen = cand[best_l];
  }
}

// closest = min(closest, dist of the chosen trial), the chosen row exactly 0; chunk sums of
// closest for the next draw; the chosen row copied to centroid `slot`.
__global__ void update_closest_kernel(float* closest, const float* dist, int64_t n, const int* best_trial,
                                      const int64_t* chosen, double* chunk_sums, const float* x, int64_t ld, int64_t d,
                                      float* centroids, int64_t c_ld, int slot) {
  __shared__ double part[kChunkThreads];
  const int64_t chunks = (n + kChunkRows - 1) / kChunkRows;
  const float* dl = dist + *best_trial * n;
  const int64_t pick = *chosen;
  if (blockIdx.x == 0) {
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) centroids[slot * c_ld + j] = x[pick * ld + j];
  }
  for (int64_t ch = blockIdx.x; ch < chunks; ch += gridDim.x) {
    const int64_t lo = ch * kChunkRows;
    const int64_t hi = min(lo + kChunkRows, n);
    double local = 0.0;
    for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
      const float m = i == pick ? 0.0f : fminf(closest[i], dl[i]);
      closest[i] = m;
      local += m;
    }
    const double total = block_sum_double(local, part);
    if (threadIdx.x == 0) chunk_sums[ch] = total;
  }
}

__global__ void total_kernel(const double* values, int64_t count, double* out) {
  __shared__ double part[kChunkThreads];
  double local = 0.0;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) local += values[i];
  const double total = block_sum_double(local, part);
  if (threadIdx.x == 0) *out = total;
}

__global__ void fill_kernel(float* v, int64_t n, float value) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) v[i] = value;
}

}  // namespace

void kmeans_assign(DeviceContext& ctx, MatrixView<const float> x, const float* x_sq_norms,
                   MatrixView<const float> centroids, const int64_t* k_offsets, int num_problems, int32_t* labels,
                   float* best_dist, float* second_dist) {
  check_kmeans_assign_args(x, x_sq_norms, centroids, k_offsets, num_problems, labels, best_dist);
  check_total_k("kmeans_assign", centroids.rows);
  const int64_t n = x.rows;
  const int64_t total_k = centroids.rows;
  if (n == 0) return;

  DeviceScratch<int64_t> offsets = upload(ctx, k_offsets, num_problems + 1);
  DeviceScratch<float> c_sq(ctx, total_k);
  row_sq_norms(ctx, centroids, c_sq.data());
  if (x.cols <= kFusedMaxDims && fused_assign_enabled()) {
    const AssignPlan plan = plan_assign(k_offsets, num_problems);
    if (plan.chunks() == 0) return;
    DeviceScratch<int32_t> slot_centroid = upload(ctx, plan.slot_centroid.data(), plan.chunks() * kAssignSlots);
    DeviceScratch<AssignSegment> segments =
        upload(ctx, plan.segments.data(), static_cast<int64_t>(plan.segments.size()));
    DeviceScratch<int32_t> chunk_segments = upload(ctx, plan.chunk_segments.data(), plan.chunks() + 1);
    const int d = static_cast<int>(x.cols);
    const int64_t shared = fused_assign_shared_bytes(d);
    COHORT_CUDA_CHECK(cudaFuncSetAttribute(fused_assign_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(shared)));
    const int64_t blocks = ceil_div(n, kAssignRows);
    COHORT_CHECK(blocks <= INT32_MAX, "kmeans_assign: {} rows are too many for one launch", n);
    fused_assign_kernel<<<static_cast<unsigned>(blocks), kAssignThreads, static_cast<size_t>(shared), ctx.stream()>>>(
        x.data, x.ld, n, d, x_sq_norms, centroids.data, centroids.ld, c_sq.data(), offsets.data(),
        slot_centroid.data(), segments.data(), chunk_segments.data(), plan.chunks(), labels, best_dist, second_dist);
    COHORT_CUDA_CHECK_LAUNCH();
    return;
  }
  const int64_t block = std::clamp(kAssignScratchFloats / total_k, int64_t{1}, n);
  DeviceScratch<float> dots(ctx, block * total_k);
  for (int64_t begin = 0; begin < n; begin += block) {
    const int64_t rows = std::min(block, n - begin);
    // Centroid-major: dots[c * rows + i] = -2 c . x_i.
    MatrixView<float> d(dots.data(), total_k, rows, rows);
    gemm_nt(ctx, -2.0f, centroids, x.rows_range(begin, begin + rows), 0.0f, d);
    const dim3 grid(static_cast<unsigned>(ceil_div(rows, 256)), static_cast<unsigned>(std::min(num_problems, 65535)));
    argmin_from_dots_kernel<<<grid, 256, 0, ctx.stream()>>>(dots.data(), rows, x_sq_norms, c_sq.data(),
                                                            offsets.data(), num_problems, n, begin, labels, best_dist,
                                                            second_dist);
    COHORT_CUDA_CHECK_LAUNCH();
  }
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
  // Grouped sums read x once per group, the sort-based path once per problem (as a gather).
  const AccumulatePlan plan = plan_accumulate(k_offsets, num_problems, d);
  const bool grouped_fits = group_sums_shared_bytes(d) <= static_cast<int64_t>(ctx.properties().sharedMemPerBlockOptin);
  if (plan.groups() > 0 && plan.groups() <= 65535 && 2 * plan.groups() <= num_problems && grouped_fits &&
      grouped_accumulate_enabled()) {
    DeviceScratch<int32_t> problem_begin = upload(ctx, plan.problem_begin.data(), plan.groups() + 1);
    const int64_t sms = ctx.properties().multiProcessorCount;
    const int64_t ranges = std::clamp<int64_t>(ceil_div(4 * sms, plan.groups()), 1, ceil_div(n, kGroupTileRows));
    const int64_t range_rows = ceil_div(ceil_div(n, ranges), kGroupTileRows) * kGroupTileRows;
    const int64_t used_ranges = ceil_div(n, range_rows);
    DeviceScratch<double> partial_sums(ctx, used_ranges * total_k * d), partial_counts(ctx, used_ranges * total_k);
    const int64_t shared = group_sums_shared_bytes(d);
    COHORT_CUDA_CHECK(cudaFuncSetAttribute(group_partial_sums_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(shared)));
    const dim3 grid(static_cast<unsigned>(used_ranges), static_cast<unsigned>(plan.groups()));
    group_partial_sums_kernel<<<grid, kGroupThreads, static_cast<size_t>(shared), stream>>>(
        x.data, x.ld, n, d, labels, offsets.data(), problem_begin.data(), range_rows, total_k, partial_sums.data(),
        partial_counts.data(), flag.data());
    COHORT_CUDA_CHECK_LAUNCH();
    add_ranges_kernel<<<grid_for(ctx, total_k * d + total_k, 256), 256, 0, stream>>>(
        partial_sums.data(), partial_counts.data(), used_ranges, total_k, d, sums, counts);
    COHORT_CUDA_CHECK_LAUNCH();
    COHORT_CHECK(flag.read() == 0, "kmeans_accumulate: a label is outside [0, k) of its problem");
    return;
  }
  DeviceScratch<int32_t> keys(ctx, count), keys_sorted(ctx, count), rows(ctx, count), rows_sorted(ctx, count);
  make_keys_kernel<<<grid_for(ctx, count, 256), 256, 0, stream>>>(labels, offsets.data(), num_problems, n, tk,
                                                                  keys.data(), rows.data(), flag.data());
  COHORT_CUDA_CHECK_LAUNCH();
  int end_bit = 1;
  while ((int64_t{1} << end_bit) <= total_k) ++end_bit;
  run_cub(ctx, [&](void* temp, size_t& bytes) {
    return cub::DeviceRadixSort::SortPairs(temp, bytes, keys.data(), keys_sorted.data(), rows.data(),
                                           rows_sorted.data(), count, 0, end_bit, stream);
  });
  DeviceScratch<int64_t> start(ctx, total_k + 1), piece_counts(ctx, total_k + 1), piece_offset(ctx, total_k + 1);
  run_starts_kernel<<<grid_for(ctx, total_k + 1, 256), 256, 0, stream>>>(keys_sorted.data(), count, tk, start.data());
  COHORT_CUDA_CHECK_LAUNCH();
  COHORT_CUDA_CHECK(cudaMemsetAsync(piece_counts.data(), 0, static_cast<size_t>(total_k + 1) * sizeof(int64_t), stream));
  piece_counts_kernel<<<grid_for(ctx, total_k, 256), 256, 0, stream>>>(start.data(), tk, piece_counts.data());
  COHORT_CUDA_CHECK_LAUNCH();
  run_cub(ctx, [&](void* temp, size_t& bytes) {
    return cub::DeviceScan::ExclusiveSum(temp, bytes, piece_counts.data(), piece_offset.data(), total_k + 1, stream);
  });
  // Every run of length m makes ceil(m / kPieceRows) <= m / kPieceRows + 1 pieces.
  const int64_t max_pieces = count / kPieceRows + total_k;
  DeviceScratch<double> piece_sums(ctx, max_pieces * d);
  const int threads = static_cast<int>(std::clamp<int64_t>((d + 31) / 32 * 32, 32, 256));
  if (d > 0) {
    piece_sums_kernel<<<static_cast<unsigned>(std::min<int64_t>(max_pieces, int64_t{1} << 20)), threads, 0, stream>>>(
        x.data, x.ld, d, rows_sorted.data(), start.data(), piece_offset.data(), tk, max_pieces, piece_sums.data());
    COHORT_CUDA_CHECK_LAUNCH();
  }
  add_pieces_kernel<<<static_cast<unsigned>(std::min<int64_t>(total_k, int64_t{1} << 20)), threads, 0, stream>>>(
      piece_sums.data(), start.data(), piece_offset.data(), tk, d, sums, counts);
  COHORT_CUDA_CHECK_LAUNCH();
  COHORT_CHECK(flag.read() == 0, "kmeans_accumulate: a label is outside [0, k) of its problem");
}

void kmeans_finalize(DeviceContext& ctx, const double* sums, const double* counts, MatrixView<float> centroids) {
  check_kmeans_finalize_args(sums, counts, centroids);
  if (centroids.rows == 0 || centroids.cols == 0) return;
  const int64_t e = centroids.rows * centroids.cols;
  finalize_kernel<<<grid_for(ctx, e, 256), 256, 0, ctx.stream()>>>(sums, counts, centroids.data, centroids.rows,
                                                                   centroids.cols, centroids.ld);
  COHORT_CUDA_CHECK_LAUNCH();
}

void sum_per_problem(DeviceContext& ctx, const float* values, int64_t n, int num_problems, double* out_host) {
  check_sum_per_problem_args(values, n, num_problems, out_host);
  if (num_problems == 0) return;
  if (n == 0) {
    std::fill(out_host, out_host + num_problems, 0.0);
    return;
  }
  DeviceScratch<double> out(ctx, num_problems);
  sum_per_problem_kernel<<<static_cast<unsigned>(num_problems), 512, 0, ctx.stream()>>>(values, n, out.data());
  COHORT_CUDA_CHECK_LAUNCH();
  COHORT_CUDA_CHECK(cudaMemcpyAsync(out_host, out.data(), static_cast<size_t>(num_problems) * sizeof(double),
                                    cudaMemcpyDeviceToHost, ctx.stream()));
  ctx.synchronize();
}

void kmeans_plus_plus(DeviceContext& ctx, MatrixView<const float> x, const float* x_sq_norms, int k, uint64_t seed,
                      MatrixView<float> centroids) {
  check_kmeans_plus_plus_args(x, x_sq_norms, k, centroids);
  const int64_t n = x.rows;
  const int64_t d = x.cols;
  cudaStream_t stream = ctx.stream();
  // The draws follow the CPU's sequence of calls on the same generator.
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  auto uniform_row = [&] { return std::uniform_int_distribution<int64_t>(0, n - 1)(rng); };
  const int trials = std::min(kMaxTrials, 2 + static_cast<int>(std::floor(std::log(static_cast<double>(k)))));
  const int64_t chunks = ceil_div(n, kChunkRows);

  DeviceScratch<float> closest(ctx, n);
  DeviceScratch<float> dist(ctx, trials * n);
  DeviceScratch<double> chunk_sums(ctx, chunks);
  DeviceScratch<double> chunk_pot(ctx, trials * chunks);
  DeviceScratch<int64_t> cand(ctx, trials);
  DeviceScratch<int64_t> chosen(ctx, 1);
  DeviceScratch<int> best_trial(ctx, 1);
  DeviceScratch<double> potential(ctx, 1);
  fill_kernel<<<grid_for(ctx, n, 256), 256, 0, stream>>>(closest.data(), n, INFINITY);
  COHORT_CUDA_CHECK_LAUNCH();

  const unsigned row_grid = grid_for(ctx, n * 32, 256);
  const unsigned chunk_grid = static_cast<unsigned>(std::min<int64_t>(chunks, int64_t{1} << 20));
  auto place = [&](int count, int slot) {
    trial_distances_kernel<<<row_grid, 256, 0, stream>>>(x.data, x.ld, n, d, x_sq_norms, cand.data(), count,
                                                         dist.data());
    COHORT_CUDA_CHECK_LAUNCH();
    trial_potentials_kernel<<<chunk_grid, kChunkThreads, 0, stream>>>(closest.data(), dist.data(), n, count,
                                                                      chunk_pot.data());
    COHORT_CUDA_CHECK_LAUNCH();
    choose_trial_kernel<<<1, kChunkThreads, 0, stream>>>(chunk_pot.data(), chunks, count, cand.data(),
                                                         best_trial.data(), chosen.data());
    COHORT_CUDA_CHECK_LAUNCH();
    update_closest_kernel<<<chunk_grid, kChunkThreads, 0, stream>>>(closest.data(), dist.data(), n,
                                                                    best_trial.data(), chosen.data(),
                                                                    chunk_sums.data(), x.data, x.ld, d,
                                                                    centroids.data, centroids.ld, slot);
    COHORT_CUDA_CHECK_LAUNCH();
    total_kernel<<<1, kChunkThreads, 0, stream>>>(chunk_sums.data(), chunks, potential.data());
    COHORT_CUDA_CHECK_LAUNCH();
  };

  const int64_t first = uniform_row();
  COHORT_CUDA_CHECK(cudaMemcpyAsync(cand.data(), &first, sizeof(int64_t), cudaMemcpyHostToDevice, stream));
  place(1, 0);
  for (int step = 1; step < k; ++step) {
    double total = 0.0;
    COHORT_CUDA_CHECK(cudaMemcpyAsync(&total, potential.data(), sizeof(double), cudaMemcpyDeviceToHost, stream));
    ctx.synchronize();
    Trials t{};
    t.count = trials;
    for (int l = 0; l < trials; ++l) {
      // Every row already coincides with a centre: D^2 sampling is undefined, draw uniformly.
      if (total > 0.0) {
        t.target[l] = unit(rng) * total;
      } else {
        t.target[l] = -1.0;
        t.fixed[l] = uniform_row();
      }
    }
    sample_kernel<<<static_cast<unsigned>(trials), kChunkThreads, 0, stream>>>(t, closest.data(), chunk_sums.data(), n,
                                                                              cand.data());
    COHORT_CUDA_CHECK_LAUNCH();
    place(trials, step);
  }
  ctx.synchronize();
}

}  // namespace cohort::cuda
