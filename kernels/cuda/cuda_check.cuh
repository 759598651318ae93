// Checking macros for CUDA, cuBLAS and cuSPARSE calls: a failure throws cohort::Error naming
// the statement, the error, the file and the line. Never aborts.
#pragma once

#ifdef COHORT_CUDA_EMULATION
#include "kernels/cuda/cpu_emulation_runtime.hpp"
#else
#include <cublas_v2.h>
#include <cuda_runtime.h>
#endif

#include "kernels/error.hpp"

#define COHORT_CUDA_CHECK(stmt)                                                                   \
  do {                                                                                            \
    cudaError_t cohort_err_ = (stmt);                                                             \
    if (cohort_err_ != cudaSuccess) {                                                             \
      int cohort_dev_ = -1;                                                                       \
      cudaGetDevice(&cohort_dev_);                                                                \
      COHORT_FAIL(cohort_err_ == cudaErrorMemoryAllocation ? ::cohort::Status::out_of_memory      \
                                                           : ::cohort::Status::backend_error,     \
                  "CUDA error on device {}: {} ({}) in `{}` at {}:{}", cohort_dev_,               \
                  cudaGetErrorString(cohort_err_), cudaGetErrorName(cohort_err_), #stmt, __FILE__, \
                  __LINE__);                                                                      \
    }                                                                                             \
  } while (0)

// After a kernel launch: launch configuration errors surface here.
#define COHORT_CUDA_CHECK_LAUNCH() COHORT_CUDA_CHECK(cudaGetLastError())

#define COHORT_CUBLAS_CHECK(stmt)                                                                 \
  do {                                                                                            \
    cublasStatus_t cohort_st_ = (stmt);                                                           \
    if (cohort_st_ != CUBLAS_STATUS_SUCCESS)                                                      \
      COHORT_FAIL(::cohort::Status::backend_error, "cuBLAS error {} ({}) in `{}` at {}:{}",       \
                  static_cast<int>(cohort_st_), cublasGetStatusString(cohort_st_), #stmt, __FILE__, \
                  __LINE__);                                                                      \
  } while (0)
