// The CUDA backend's entry points. This header names no CUDA type, so anything may include it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kernels/backend.hpp"
#include "kernels/cuda/cuda_namespace.hpp"

COHORT_CUDA_ENTRY_NAMESPACE_BEGIN

// Visible GPUs; 0 when the driver is missing (cudaErrorInsufficientDriver) or no device.
int cuda_visible_devices();
std::vector<std::string> cuda_describe_devices();
// Throws Error(backend_error) when the device cannot be used. tf32: k-means distances on TF32
// tensor cores, with the labels kept FP32's (kmeans_tf32_kernels.cuh).
std::unique_ptr<Backend> make_cuda_backend(int device, bool tf32 = false);

// Backend::topk_cosine computed by the library reference path (cuSPARSE SpGEMM of the row
// range with a^T, then cub segmented sorts): for tests and benchmarks of the custom kernel.
// `backend` must come from make_cuda_backend; blocks.
void cuda_topk_cosine_reference(Backend& backend, CsrView a, CsrView a_t, int64_t row_begin, int64_t row_end, int k,
                                bool exclude_self, int32_t* out_index, float* out_score);

COHORT_CUDA_ENTRY_NAMESPACE_END
