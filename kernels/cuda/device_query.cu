// Which GPUs are usable. Without a driver cudaGetDeviceCount fails with
// cudaErrorInsufficientDriver (or cudaErrorNoDevice): that is "no GPU", not an error.
#include "kernels/cuda/cuda_check.cuh"

#include <fmt/format.h>

#include "kernels/cuda/cuda_backend.hpp"

COHORT_CUDA_ENTRY_NAMESPACE_BEGIN

int cuda_visible_devices() {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later queries start clean
    return 0;
  }
  return count;
}

std::vector<std::string> cuda_describe_devices() {
  std::vector<std::string> lines;
  int count = cuda_visible_devices();
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, d) != cudaSuccess) continue;
    lines.push_back(fmt::format("cuda:{} {}, {:.1f} GiB, sm_{}{}, {} SMs", d, prop.name,
                                static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0), prop.major,
                                prop.minor, prop.multiProcessorCount));
  }
  return lines;
}

COHORT_CUDA_ENTRY_NAMESPACE_END
