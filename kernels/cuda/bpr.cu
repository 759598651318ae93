// BPR (Rendle et al. 2009) on the GPU: the launcher of bpr_kernels.cuh.
#include <algorithm>
#include <cmath>

#include "kernels/backend_checks.hpp"
#include "kernels/cuda/cuda_ops.cuh"
#include "kernels/cuda/bpr_kernels.cuh"
#include "kernels/cuda/device_util.cuh"

COHORT_CUDA_NAMESPACE_BEGIN

BprStats bpr_epoch(DeviceContext& ctx, CsrView user_items, MatrixView<float> users, MatrixView<float> items,
                   float learning_rate, float reg, int64_t samples, uint64_t seed) {
  check_bpr_epoch_args(user_items, users, items, learning_rate, reg, samples);
  const int64_t f = users.cols;
  COHORT_CHECK(f <= INT32_MAX, "bpr_epoch: {} factors", f);
  if (user_items.nnz == 0 || samples == 0) return {};

  DeviceScratch<Counters> counters(ctx, 1);
  COHORT_CUDA_CHECK(cudaMemsetAsync(counters.data(), 0, sizeof(Counters), ctx.stream()));
  // Hogwild: every warp updates shared item rows without locks. Thousands of warps at once on a
  // small or skewed catalogue overwrite each other's steps, so concurrency is capped at a few
  // blocks per SM; each warp then loops over many samples.
  const unsigned grid = std::min<unsigned>(grid_for(ctx, samples * 32, 256),
                                           static_cast<unsigned>(ctx.properties().multiProcessorCount) * 4);
  launch_kernel(bpr_kernel, grid, 256, 0, ctx.stream(), user_items, users.data, users.ld, items.data, items.ld,
                static_cast<int>(f), learning_rate, reg, samples, seed, counters.data());
  Counters host{};
  COHORT_CUDA_CHECK(cudaMemcpyAsync(&host, counters.data(), sizeof(Counters), cudaMemcpyDeviceToHost, ctx.stream()));
  ctx.synchronize();
  BprStats stats;
  stats.samples = samples;
  stats.correct = static_cast<int64_t>(host.correct);
  stats.skipped = static_cast<int64_t>(host.skipped);
  return stats;
}

COHORT_CUDA_NAMESPACE_END
