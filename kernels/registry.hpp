// Picks a Backend at run time: "auto" takes a GPU when one is visible, else the CPU.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kernels/backend.hpp"

namespace cohort {

struct BackendOptions {
  int threads = 0;  // CPU threads; 0 = OpenMP's default
  // CUDA: k-means distances on TF32 tensor cores. The pairs TF32 cannot decide are recomputed
  // in FP32, so the labels are FP32's; distances carry TF32's error (~2^-8 |x| |c|).
  bool tf32 = false;
};

// kind: "auto", "cpu", "cuda" (device 0) or "cuda:N". Throws Error(invalid_argument) for an
// unknown kind and Error(backend_error) when CUDA is asked for but no GPU is usable.
std::unique_ptr<Backend> make_backend(const std::string& kind, const BackendOptions& options = {});

// Whether this build holds the CUDA backend.
bool cuda_compiled();
// GPUs usable now; 0 without a driver (cudaErrorInsufficientDriver) or without CUDA.
int cuda_device_count();
// One line per visible GPU: "cuda:0 NVIDIA H100 80GB HBM3, 79.1 GiB, sm_90".
std::vector<std::string> cuda_device_descriptions();

}  // namespace cohort
