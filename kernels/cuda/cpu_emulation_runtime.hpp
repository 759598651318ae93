// CPU stand-ins for the part of the CUDA runtime, cuBLAS and cub that cohort's launchers use
// (cuSPARSE: cpu_emulation_cusparse.hpp),
// so that the launchers themselves (kernels/cuda/*.cu) compile with a host compiler over the
// CPU emulation and the whole CUDA backend runs, slowly and without a GPU, in
// backend_diff_emulated_test. "Device" memory is host memory; every call completes before it
// returns; the device reports 2 SMs (small grids keep the emulation quick) and sm_80's shared
// memory limit. Included in place of the toolkit's headers when COHORT_CUDA_EMULATION is
// defined; never part of the library.
#pragma once

#ifndef COHORT_CUDA_EMULATION
#error "cpu_emulation_runtime.hpp is for the CPU emulation build only (define COHORT_CUDA_EMULATION)"
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <numeric>
#include <utility>
#include <vector>

#include "kernels/cuda/cpu_emulation.hpp"

// ---- runtime ----

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInsufficientDriver = 35,
  cudaErrorNoDevice = 100,
};
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
};
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
enum cudaMemPoolAttr { cudaMemPoolAttrReleaseThreshold = 4 };
enum cudaDeviceAttr {
  cudaDevAttrClockRate = 13,
  cudaDevAttrMemoryClockRate = 36,
  cudaDevAttrGlobalMemoryBusWidth = 37,
};
constexpr unsigned cudaStreamNonBlocking = 1;

struct CohortEmulatedStream {};
struct CohortEmulatedPool {};
using cudaStream_t = CohortEmulatedStream*;
using cudaMemPool_t = CohortEmulatedPool*;

struct cudaDeviceProp {
  char name[256];
  std::size_t totalGlobalMem;
  int multiProcessorCount;
  std::size_t sharedMemPerBlockOptin;
  int major;
  int minor;
  int l2CacheSize;
};

inline const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorInsufficientDriver: return "CUDA driver version is insufficient";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
  }
  return "unknown error";
}
inline const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorInsufficientDriver: return "cudaErrorInsufficientDriver";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
  }
  return "cudaErrorUnknown";
}
// Launch errors abort in the emulation (cohort::cuda_emulation::launch): nothing is left over.
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
inline cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : cudaErrorInvalidValue; }
inline cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  if (device != 0) return cudaErrorInvalidValue;
  *p = cudaDeviceProp{};
  std::strcpy(p->name, "CPU emulation");
  p->totalGlobalMem = std::size_t{16} << 30;  // the default capacity of device_memory()
  p->multiProcessorCount = 2;
  p->sharedMemPerBlockOptin = cohort::cuda_emulation::kMaxDynamicSharedBytes;
  p->major = 8;
  p->minor = 0;
  p->l2CacheSize = 256 << 10;  // small, so that the tests' k-means sums run in several bands
  return cudaSuccess;
}
// Clocks and bus width: 0, the emulation has no peak rate to report.
inline cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr, int device) {
  *value = 0;
  return device == 0 ? cudaSuccess : cudaErrorInvalidValue;
}
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned) {
  static CohortEmulatedStream the_stream;
  *stream = &the_stream;
  return cudaSuccess;
}
inline cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaDeviceGetDefaultMemPool(cudaMemPool_t* pool, int) {
  static CohortEmulatedPool the_pool;
  *pool = &the_pool;
  return cudaSuccess;
}
inline cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t, cudaMemPoolAttr, void*) { return cudaSuccess; }
namespace cohort::cuda_emulation {
// The emulated device's memory: its size (tests lower it to reach the out-of-memory path) and
// what is allocated, by pointer.
struct DeviceMemory {
  std::mutex mutex;  // workers on threads allocate at once
  std::size_t capacity = std::size_t{16} << 30;
  std::size_t used = 0;
  std::vector<std::pair<void*, std::size_t>> blocks;
};
inline DeviceMemory& device_memory() {
  static DeviceMemory memory;
  return memory;
}
}  // namespace cohort::cuda_emulation

inline cudaError_t cudaMallocAsync(void** ptr, std::size_t bytes, cudaStream_t) {
  // 256-byte aligned, as cudaMalloc's are, and filled with 0xff bytes (NaN floats, -1
  // integers): device memory comes uninitialised, and a launcher that reads what it never
  // wrote should fail here rather than pass on zeros.
  auto& memory = cohort::cuda_emulation::device_memory();
  const std::lock_guard<std::mutex> lock(memory.mutex);
  const std::size_t rounded = (bytes + 255) / 256 * 256;
  *ptr = nullptr;
  if (rounded > memory.capacity - memory.used) return cudaErrorMemoryAllocation;
  *ptr = std::aligned_alloc(256, rounded);
  if (*ptr == nullptr) return cudaErrorMemoryAllocation;
  std::memset(*ptr, 0xff, rounded);
  memory.used += rounded;
  memory.blocks.emplace_back(*ptr, rounded);
  return cudaSuccess;
}
inline cudaError_t cudaFreeAsync(void* ptr, cudaStream_t) {
  auto& memory = cohort::cuda_emulation::device_memory();
  const std::lock_guard<std::mutex> lock(memory.mutex);
  for (auto& block : memory.blocks) {
    if (block.first != ptr) continue;
    memory.used -= block.second;
    block = memory.blocks.back();
    memory.blocks.pop_back();
    break;
  }
  std::free(ptr);
  return cudaSuccess;
}
inline cudaError_t cudaMemGetInfo(std::size_t* free_bytes, std::size_t* total_bytes) {
  auto& memory = cohort::cuda_emulation::device_memory();
  const std::lock_guard<std::mutex> lock(memory.mutex);
  *free_bytes = memory.capacity - memory.used;
  *total_bytes = memory.capacity;
  return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void* ptr, int value, std::size_t bytes, cudaStream_t) {
  if (bytes > 0) std::memset(ptr, value, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind, cudaStream_t) {
  if (bytes > 0) std::memmove(dst, src, bytes);
  return cudaSuccess;
}
template <class Kernel>
cudaError_t cudaFuncSetAttribute(Kernel, cudaFuncAttribute, int value) {
  return static_cast<std::size_t>(value) <= cohort::cuda_emulation::kMaxDynamicSharedBytes ? cudaSuccess
                                                                                            : cudaErrorInvalidValue;
}
template <class Kernel>
cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, Kernel, int, std::size_t) {
  *blocks = 1;
  return cudaSuccess;
}

// ---- cuBLAS ----

// The math mode is the handle's, as in cuBLAS. With TF32 the inputs are truncated to TF32's 10
// mantissa bits (what tensor cores read of an FP32 operand; the largest error cuBLAS may make).
enum cublasMath_t { CUBLAS_DEFAULT_MATH = 0, CUBLAS_TF32_TENSOR_OP_MATH = 3 };
struct CohortEmulatedBlas {
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
};
using cublasHandle_t = CohortEmulatedBlas*;
enum cublasStatus_t { CUBLAS_STATUS_SUCCESS = 0, CUBLAS_STATUS_INVALID_VALUE = 7 };
enum cublasOperation_t { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 };

inline cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  *handle = new CohortEmulatedBlas;
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasSetStream(cublasHandle_t, cudaStream_t) { return CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  handle->math = mode;
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t* mode) {
  *mode = handle->math;
  return CUBLAS_STATUS_SUCCESS;
}
inline const char* cublasGetStatusString(cublasStatus_t s) {
  return s == CUBLAS_STATUS_SUCCESS ? "CUBLAS_STATUS_SUCCESS" : "CUBLAS_STATUS_INVALID_VALUE";
}
// Column-major C = alpha op(A) op(B) + beta C (C not read when beta is 0), as cuBLAS.
inline cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m,
                                  int n, int k, const float* alpha, const float* a, int lda, const float* b, int ldb,
                                  const float* beta, float* c, int ldc) {
  if (m < 0 || n < 0 || k < 0) return CUBLAS_STATUS_INVALID_VALUE;
  const bool tf32 = handle->math == CUBLAS_TF32_TENSOR_OP_MATH;
  for (int j = 0; j < n; ++j) {
    for (int i = 0; i < m; ++i) {
      double s = 0.0;
      for (int l = 0; l < k; ++l) {
        float av = transa == CUBLAS_OP_N ? a[i + int64_t{l} * lda] : a[l + int64_t{i} * lda];
        float bv = transb == CUBLAS_OP_N ? b[l + int64_t{j} * ldb] : b[j + int64_t{l} * ldb];
        if (tf32) {
          av = cohort_emulated_tf32(av);
          bv = cohort_emulated_tf32(bv);
        }
        s += static_cast<double>(av) * bv;
      }
      float& out = c[i + int64_t{j} * ldc];
      out = static_cast<float>(*alpha * s + (*beta == 0.0f ? 0.0 : static_cast<double>(*beta) * out));
    }
  }
  return CUBLAS_STATUS_SUCCESS;
}

// ---- cub: the device-wide algorithms cohort calls ----
//
// The first call of each (temp == nullptr) asks for 1 byte of scratch, the second runs.
namespace cub {

struct DeviceRadixSort {
  // Stable: equal keys keep their order, as cub's radix sort does.
  template <class K, class V>
  static cudaError_t SortPairs(void* temp, std::size_t& bytes, const K* keys_in, K* keys_out, const V* values_in,
                               V* values_out, int64_t n, int = 0, int = int(sizeof(K) * 8), cudaStream_t = nullptr) {
    return sort(temp, bytes, keys_in, keys_out, values_in, values_out, n, false);
  }
  template <class K, class V>
  static cudaError_t SortPairsDescending(void* temp, std::size_t& bytes, const K* keys_in, K* keys_out,
                                         const V* values_in, V* values_out, int64_t n, int = 0,
                                         int = int(sizeof(K) * 8), cudaStream_t = nullptr) {
    return sort(temp, bytes, keys_in, keys_out, values_in, values_out, n, true);
  }

 private:
  template <class K, class V>
  static cudaError_t sort(void* temp, std::size_t& bytes, const K* keys_in, K* keys_out, const V* values_in,
                          V* values_out, int64_t n, bool descending) {
    if (temp == nullptr) {
      bytes = 1;
      return cudaSuccess;
    }
    std::vector<int64_t> order(static_cast<std::size_t>(n));
    std::iota(order.begin(), order.end(), int64_t{0});
    std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
      return descending ? keys_in[y] < keys_in[x] : keys_in[x] < keys_in[y];
    });
    std::vector<K> keys(static_cast<std::size_t>(n));
    std::vector<V> values(static_cast<std::size_t>(n));
    for (int64_t p = 0; p < n; ++p) {
      keys[static_cast<std::size_t>(p)] = keys_in[order[static_cast<std::size_t>(p)]];
      values[static_cast<std::size_t>(p)] = values_in[order[static_cast<std::size_t>(p)]];
    }
    std::copy(keys.begin(), keys.end(), keys_out);
    std::copy(values.begin(), values.end(), values_out);
    return cudaSuccess;
  }
};

// Each segment [begin[s], end[s]) sorted on its own (stably: it serves both cub's SortPairs and
// its StableSortPairs* here).
struct DeviceSegmentedSort {
  template <class K, class V, class Offsets>
  static cudaError_t SortPairs(void* temp, std::size_t& bytes, const K* keys_in, K* keys_out, const V* values_in,
                               V* values_out, int64_t n, int64_t segments, Offsets begin, Offsets end,
                               cudaStream_t = nullptr) {
    return sort(temp, bytes, keys_in, keys_out, values_in, values_out, n, segments, begin, end, false);
  }
  template <class K, class V, class Offsets>
  static cudaError_t StableSortPairsDescending(void* temp, std::size_t& bytes, const K* keys_in, K* keys_out,
                                               const V* values_in, V* values_out, int64_t n, int64_t segments,
                                               Offsets begin, Offsets end, cudaStream_t = nullptr) {
    return sort(temp, bytes, keys_in, keys_out, values_in, values_out, n, segments, begin, end, true);
  }

 private:
  template <class K, class V, class Offsets>
  static cudaError_t sort(void* temp, std::size_t& bytes, const K* keys_in, K* keys_out, const V* values_in,
                          V* values_out, int64_t n, int64_t segments, Offsets begin, Offsets end, bool descending) {
    if (temp == nullptr) {
      bytes = 1;
      return cudaSuccess;
    }
    std::vector<int64_t> order;
    for (int64_t s = 0; s < segments; ++s) {
      const int64_t lo = begin[s];
      const int64_t hi = end[s];
      if (lo < 0 || hi < lo || hi > n) return cudaErrorInvalidValue;
      order.resize(static_cast<std::size_t>(hi - lo));
      std::iota(order.begin(), order.end(), lo);
      std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
        return descending ? keys_in[y] < keys_in[x] : keys_in[x] < keys_in[y];
      });
      std::vector<K> keys(order.size());
      std::vector<V> values(order.size());
      for (std::size_t p = 0; p < order.size(); ++p) {
        keys[p] = keys_in[order[p]];
        values[p] = values_in[order[p]];
      }
      std::copy(keys.begin(), keys.end(), keys_out + lo);
      std::copy(values.begin(), values.end(), values_out + lo);
    }
    return cudaSuccess;
  }
};

struct DeviceScan {
  template <class In, class Out>
  static cudaError_t ExclusiveSum(void* temp, std::size_t& bytes, In in, Out out, int64_t n, cudaStream_t = nullptr) {
    if (temp == nullptr) {
      bytes = 1;
      return cudaSuccess;
    }
    std::decay_t<decltype(*out)> run{};
    for (int64_t i = 0; i < n; ++i) {
      const auto v = in[i];
      out[i] = run;
      run += v;
    }
    return cudaSuccess;
  }
};

}  // namespace cub
