// k-means++ seeding on the GPU: its kernels and the host driver that draws the random numbers
// and launches them, generic over the device so that the CPU emulation runs the whole seeding
// (tests/kernels/kmeans_seeding_emulated_test.cpp); kmeans.cu runs it on a DeviceContext.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>

#include "kernels/cuda/device_functions.cuh"
#include "kernels/views.hpp"

COHORT_CUDA_NAMESPACE_BEGIN

constexpr int kChunkRows = 1024;  // rows per chunk (fixed-order partial sums)
constexpr int kChunkThreads = 256;
constexpr int kMaxTrials = 32;

struct Trials {
  int count;
  double target[kMaxTrials];   // D^2 draw: the first row whose running sum exceeds it; < 0: fixed
  int64_t fixed[kMaxTrials];   // the row drawn uniformly when target < 0
};

// Block-wide inclusive scan (Hillis-Steele, fixed order) of kChunkThreads doubles in `buf`.
__device__ inline void block_inclusive_scan(double* buf) {
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
__device__ inline int64_t find_crossing(int64_t count, double base, double target, W w, double* buf,
                                        int64_t* found, double* carry) {
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

__global__ void fill_kernel(float* v, int64_t n, float value) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) v[i] = value;
}

// k-means++ seeding: greedy D^2 sampling (Arthur, Vassilvitskii 2007), the best of `trials`
// candidates at each step. The random draws are made on the host in the CPU backend's order
// on the same generator; every sum on the device is a fixed-order reduction over fixed chunks.
// Device: scratch<T>(count) (an object with data()), launch(kernel, grid, block, args...),
// to_device / to_host (blocking) copies, grid_for(n, block): CUDA's in kmeans.cu, the CPU
// emulation's in the test. Queues the work; the caller synchronises.
template <class Device>
void seed_kmeans_plus_plus(Device& device, MatrixView<const float> x, const float* x_sq_norms, int k, uint64_t seed,
                           MatrixView<float> centroids) {
  const int64_t n = x.rows;
  const int64_t d = x.cols;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  auto uniform_row = [&] { return std::uniform_int_distribution<int64_t>(0, n - 1)(rng); };
  const int trials = std::min(kMaxTrials, 2 + static_cast<int>(std::floor(std::log(static_cast<double>(k)))));
  const int64_t chunks = (n + kChunkRows - 1) / kChunkRows;

  auto closest = device.template scratch<float>(n);
  auto dist = device.template scratch<float>(trials * n);
  auto chunk_sums = device.template scratch<double>(chunks);
  auto chunk_pot = device.template scratch<double>(trials * chunks);
  auto cand = device.template scratch<int64_t>(trials);
  auto chosen = device.template scratch<int64_t>(1);
  auto best_trial = device.template scratch<int>(1);
  auto potential = device.template scratch<double>(1);
  device.launch(fill_kernel, dim3(device.grid_for(n, 256)), dim3(256), closest.data(), n, INFINITY);

  const dim3 row_grid(device.grid_for(n * 32, 256));
  const dim3 chunk_grid(static_cast<unsigned>(std::min<int64_t>(chunks, int64_t{1} << 20)));
  auto place = [&](int count, int slot) {
    device.launch(trial_distances_kernel, row_grid, dim3(256), x.data, x.ld, n, d, x_sq_norms, cand.data(), count,
                  dist.data());
    device.launch(trial_potentials_kernel, chunk_grid, dim3(kChunkThreads), closest.data(), dist.data(), n, count,
                  chunk_pot.data());
    device.launch(choose_trial_kernel, dim3(1), dim3(kChunkThreads), chunk_pot.data(), chunks, count, cand.data(),
                  best_trial.data(), chosen.data());
    device.launch(update_closest_kernel, chunk_grid, dim3(kChunkThreads), closest.data(), dist.data(), n,
                  best_trial.data(), chosen.data(), chunk_sums.data(), x.data, x.ld, d, centroids.data,
                  centroids.ld, slot);
    device.launch(ordered_sum_kernel<kChunkThreads>, dim3(1), dim3(kChunkThreads), chunk_sums.data(), chunks, potential.data());
  };

  const int64_t first = uniform_row();
  device.to_device(cand.data(), &first, sizeof(int64_t));
  place(1, 0);
  for (int step = 1; step < k; ++step) {
    double total = 0.0;
    device.to_host(&total, potential.data(), sizeof(double));
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
    device.launch(sample_kernel, dim3(static_cast<unsigned>(trials)), dim3(kChunkThreads), t, closest.data(),
                  chunk_sums.data(), n, cand.data());
    place(trials, step);
  }
}

COHORT_CUDA_NAMESPACE_END
