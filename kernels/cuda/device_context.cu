#include "kernels/cuda/device_context.cuh"

#include <cstdint>

COHORT_CUDA_NAMESPACE_BEGIN

DeviceContext::DeviceContext(int device) : device_(device) {
  COHORT_CUDA_CHECK(cudaSetDevice(device));
  COHORT_CUDA_CHECK(cudaGetDeviceProperties(&properties_, device));
  COHORT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  COHORT_CUBLAS_CHECK(cublasCreate(&cublas_));
  COHORT_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
  // Keep freed blocks in the pool between operations instead of returning them to the driver.
  cudaMemPool_t pool = nullptr;
  COHORT_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device));
  uint64_t threshold = UINT64_MAX;
  COHORT_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold));
  warm_up_gemms(false);
}

// cuBLAS initialises itself at its first GEMM and the pool maps memory at its first allocation:
// on an H200, 76 ms and 9 ms (COHORT_CUDA_TRACE). Done here, they are paid where the context is
// made, which the CLI does on its own thread while the data is read: a 64 x 64 GEMM of each
// transpose cohort uses (with tf32, the T N one of the k-means distances in TF32).
void DeviceContext::warm_up_gemms(bool tf32) {
  constexpr int n = 64;
  auto* m = static_cast<float*>(allocate(3 * n * n * sizeof(float)));
  COHORT_CUDA_CHECK(cudaMemsetAsync(m, 0, 2 * n * n * sizeof(float), stream_));
  const float one = 1.0f;
  const float zero = 0.0f;
  if (tf32) COHORT_CUBLAS_CHECK(cublasSetMathMode(cublas_, CUBLAS_TF32_TENSOR_OP_MATH));
  COHORT_CUBLAS_CHECK(
      cublasSgemm(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, n, n, n, &one, m, n, m + n * n, n, &zero, m + 2 * n * n, n));
  if (tf32) {
    COHORT_CUBLAS_CHECK(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
  } else {
    COHORT_CUBLAS_CHECK(
        cublasSgemm(cublas_, CUBLAS_OP_N, CUBLAS_OP_T, n, n, n, &one, m, n, m + n * n, n, &zero, m + 2 * n * n, n));
  }
  release(m);
  synchronize();
}

DeviceContext::~DeviceContext() {
  if (cublas_ != nullptr) cublasDestroy(cublas_);
  if (stream_ != nullptr) {
    cudaStreamSynchronize(stream_);
    cudaStreamDestroy(stream_);
  }
}

void* DeviceContext::allocate(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  void* ptr = nullptr;
  cudaError_t err = cudaMallocAsync(&ptr, bytes, stream_);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    std::size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    COHORT_FAIL(Status::out_of_memory, "cuda:{}: out of memory allocating {:.1f} MiB ({:.1f} MiB free of {:.1f} MiB)",
                device_, bytes / 1048576.0, free_bytes / 1048576.0, total_bytes / 1048576.0);
  }
  COHORT_CUDA_CHECK(err);
  return ptr;
}

void DeviceContext::release(void* ptr) noexcept {
  if (ptr != nullptr) cudaFreeAsync(ptr, stream_);
}

void DeviceContext::synchronize() { COHORT_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

COHORT_CUDA_NAMESPACE_END
