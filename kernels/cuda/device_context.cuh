// One GPU's resources: its non-blocking stream, cuBLAS handle and stream-ordered memory pool.
// Everything the CUDA backend launches goes on this one stream; the host synchronises only
// at the boundaries (copies to the host, values returned to the host).
#pragma once

#ifdef COHORT_CUDA_EMULATION
#include "kernels/cuda/cpu_emulation_runtime.hpp"
#else
#include <cublas_v2.h>
#include <cuda_runtime.h>
#endif

#include <cstddef>
#include <cstdint>
#include <utility>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_namespace.hpp"

COHORT_CUDA_NAMESPACE_BEGIN

class DeviceContext {
 public:
  explicit DeviceContext(int device);
  ~DeviceContext();
  DeviceContext(const DeviceContext&) = delete;
  DeviceContext& operator=(const DeviceContext&) = delete;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  cublasHandle_t cublas() const { return cublas_; }
  const cudaDeviceProp& properties() const { return properties_; }

  // Stream-ordered allocation from the device's pool; Error(out_of_memory) names the bytes
  // asked and free.
  void* allocate(std::size_t bytes);
  void release(void* ptr) noexcept;
  void synchronize();
  // The first TF32 GEMM's start-up, paid here (the backend calls it when made with tf32).
  void warm_up_tf32() { warm_up_gemms(true); }

 private:
  void warm_up_gemms(bool tf32);

  int device_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  cudaDeviceProp properties_{};
};

// Scratch memory for one operation, released (stream-ordered) when it goes out of scope.
template <class T>
class DeviceScratch {
 public:
  DeviceScratch(DeviceContext& ctx, int64_t count)
      : ctx_(&ctx), data_(count > 0 ? static_cast<T*>(ctx.allocate(static_cast<std::size_t>(count) * sizeof(T))) : nullptr),
        count_(count) {}
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;
  DeviceScratch(DeviceScratch&& o) noexcept : ctx_(o.ctx_), data_(std::exchange(o.data_, nullptr)), count_(o.count_) {}
  ~DeviceScratch() {
    if (data_ != nullptr) ctx_->release(data_);
  }
  T* data() const { return data_; }
  int64_t size() const { return count_; }

 private:
  DeviceContext* ctx_;
  T* data_;
  int64_t count_;
};

COHORT_CUDA_NAMESPACE_END
