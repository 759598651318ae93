// The CUDA backend compiled for the CPU emulation has no cuSPARSE: similarity_reference.cu is
// left out of it (tests/CMakeLists.txt), and its entry point says so.
#include "kernels/cuda/cuda_ops.cuh"
#include "kernels/error.hpp"

COHORT_CUDA_NAMESPACE_BEGIN

void topk_cosine_reference(DeviceContext&, CsrView, CsrView, int64_t, int64_t, int, bool, int32_t*, float*) {
  COHORT_FAIL(Status::backend_error, "topk_cosine_reference: cuSPARSE is not available under the CPU emulation");
}

COHORT_CUDA_NAMESPACE_END
