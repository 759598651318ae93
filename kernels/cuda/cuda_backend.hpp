// The CUDA backend's entry points. This header names no CUDA type, so anything may include it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kernels/backend.hpp"

namespace cohort {

// Visible GPUs; 0 when the driver is missing (cudaErrorInsufficientDriver) or no device.
int cuda_visible_devices();
std::vector<std::string> cuda_describe_devices();
// Throws Error(backend_error) when the device cannot be used.
std::unique_ptr<Backend> make_cuda_backend(int device);

}  // namespace cohort
