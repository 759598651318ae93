// Host-side helpers of the CUDA launchers: launch arithmetic and an error flag that kernels
// raise on bad input. The device-side helpers are in device_functions.cuh.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/device_context.cuh"
#include "kernels/cuda/device_functions.cuh"
#include "kernels/views.hpp"

COHORT_CUDA_NAMESPACE_BEGIN

// Whether environment variable `name` is set to `value`: the launchers' switches between a
// default path and the one gpu_ops times beside it.
inline bool env_is(const char* name, std::string_view value) {
  const char* v = std::getenv(name);
  return v != nullptr && value == v;
}

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Grid size for a grid-stride loop over n items: enough blocks to fill the device, no more.
inline unsigned grid_for(const DeviceContext& ctx, int64_t n, int block) {
  int64_t want = ceil_div(n, block);
  int64_t cap = static_cast<int64_t>(ctx.properties().multiProcessorCount) * 32;
  if (want < 1) want = 1;
  return static_cast<unsigned>(want < cap ? want : cap);
}

// Queues kernel(args...) on the stream over grid x block with shared_bytes of dynamic shared
// memory and checks the launch (what the kernel does is checked at the next synchronising
// call). Under the CPU emulation it runs the kernel there, at once.
template <class Kernel, class... Args>
void launch_kernel(Kernel kernel, dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream, Args... args) {
#ifdef COHORT_CUDA_EMULATION
  (void)stream;
  cuda_emulation::launch(grid, block, shared_bytes, kernel, args...);
#else
  kernel<<<grid, block, shared_bytes, stream>>>(args...);
#endif
  COHORT_CUDA_CHECK_LAUNCH();
}

// Runs a cub device-wide algorithm: call(temp, bytes) once to size its scratch, once to run.
template <class Call>
void run_cub(DeviceContext& ctx, Call call) {
  size_t bytes = 0;
  COHORT_CUDA_CHECK(call(nullptr, bytes));
  DeviceScratch<unsigned char> temp(ctx, static_cast<int64_t>(bytes));
  COHORT_CUDA_CHECK(call(temp.data(), bytes));
}

// A device word that kernels set (atomicOr of bits) when they meet bad input. check() blocks.
class DeviceFlag {
 public:
  explicit DeviceFlag(DeviceContext& ctx) : ctx_(&ctx), word_(ctx, 1) {
    COHORT_CUDA_CHECK(cudaMemsetAsync(word_.data(), 0, sizeof(int), ctx.stream()));
  }
  int* data() const { return word_.data(); }
  // The bits raised so far; waits for the stream.
  int read() {
    int host = 0;
    COHORT_CUDA_CHECK(cudaMemcpyAsync(&host, word_.data(), sizeof(int), cudaMemcpyDeviceToHost, ctx_->stream()));
    ctx_->synchronize();
    return host;
  }

 private:
  DeviceContext* ctx_;
  DeviceScratch<int> word_;
};

COHORT_CUDA_NAMESPACE_END
