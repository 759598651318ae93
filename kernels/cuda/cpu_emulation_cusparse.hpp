// CPU stand-ins for the part of cuSPARSE that the reference path of topk_cosine uses
// (similarity_reference.cu: a CSR x CSR product by SpGEMM), so that path, too, runs on the CPU
// emulation of the device and backend_diff_emulated_test checks it against the CPU backend.
// The product is formed row by row with a dense accumulator in compute(); like cuSPARSE, the
// buffers asked for must be passed back, C's arrays are set by cusparseCsrSetPointers and filled
// by cusparseSpGEMM_copy, and an unsupported argument is an error status, not a wrong answer.
// Included in place of <cusparse.h> when COHORT_CUDA_EMULATION is defined; never part of the
// library.
#pragma once

#ifndef COHORT_CUDA_EMULATION
#error "cpu_emulation_cusparse.hpp is for the CPU emulation build only (define COHORT_CUDA_EMULATION)"
#endif

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/cuda/cpu_emulation_runtime.hpp"

enum cusparseStatus_t {
  CUSPARSE_STATUS_SUCCESS = 0,
  CUSPARSE_STATUS_NOT_INITIALIZED = 1,
  CUSPARSE_STATUS_INVALID_VALUE = 3,
  CUSPARSE_STATUS_NOT_SUPPORTED = 10,
  CUSPARSE_STATUS_INSUFFICIENT_RESOURCES = 11,
};
enum cusparseOperation_t { CUSPARSE_OPERATION_NON_TRANSPOSE = 0, CUSPARSE_OPERATION_TRANSPOSE = 1 };
enum cusparseSpGEMMAlg_t { CUSPARSE_SPGEMM_DEFAULT = 0 };
enum cusparseIndexType_t { CUSPARSE_INDEX_32I = 2, CUSPARSE_INDEX_64I = 3 };
enum cusparseIndexBase_t { CUSPARSE_INDEX_BASE_ZERO = 0, CUSPARSE_INDEX_BASE_ONE = 1 };
enum cudaDataType { CUDA_R_32F = 0, CUDA_R_64F = 1 };

struct CohortEmulatedSparseHandle {};
struct CohortEmulatedCsr {
  int64_t rows = 0, cols = 0, nnz = 0;
  int32_t* offsets = nullptr;
  int32_t* columns = nullptr;
  float* values = nullptr;
};
// The product between compute() and copy().
struct CohortEmulatedSpGEMM {
  bool computed = false;
  std::vector<int32_t> offsets, columns;
  std::vector<float> values;
};
using cusparseHandle_t = CohortEmulatedSparseHandle*;
using cusparseSpMatDescr_t = CohortEmulatedCsr*;
using cusparseConstSpMatDescr_t = const CohortEmulatedCsr*;
using cusparseSpGEMMDescr_t = CohortEmulatedSpGEMM*;

inline const char* cusparseGetErrorString(cusparseStatus_t s) {
  switch (s) {
    case CUSPARSE_STATUS_SUCCESS: return "success (emulated)";
    case CUSPARSE_STATUS_INVALID_VALUE: return "invalid value (emulated)";
    case CUSPARSE_STATUS_NOT_SUPPORTED: return "not supported by the emulation";
    case CUSPARSE_STATUS_INSUFFICIENT_RESOURCES: return "buffer missing or too small (emulated)";
    default: return "error (emulated)";
  }
}

inline cusparseStatus_t cusparseCreate(cusparseHandle_t* handle) {
  *handle = new CohortEmulatedSparseHandle;
  return CUSPARSE_STATUS_SUCCESS;
}
inline cusparseStatus_t cusparseDestroy(cusparseHandle_t handle) {
  delete handle;
  return CUSPARSE_STATUS_SUCCESS;
}
inline cusparseStatus_t cusparseSetStream(cusparseHandle_t, cudaStream_t) { return CUSPARSE_STATUS_SUCCESS; }

// 32-bit indices, base zero and float values only: what the reference path asks for.
inline cusparseStatus_t cusparseCreateCsr(cusparseSpMatDescr_t* out, int64_t rows, int64_t cols, int64_t nnz,
                                          void* offsets, void* columns, void* values, cusparseIndexType_t offset_type,
                                          cusparseIndexType_t column_type, cusparseIndexBase_t base,
                                          cudaDataType value_type) {
  if (offset_type != CUSPARSE_INDEX_32I || column_type != CUSPARSE_INDEX_32I || base != CUSPARSE_INDEX_BASE_ZERO ||
      value_type != CUDA_R_32F)
    return CUSPARSE_STATUS_NOT_SUPPORTED;
  if (rows < 0 || cols < 0 || nnz < 0) return CUSPARSE_STATUS_INVALID_VALUE;
  *out = new CohortEmulatedCsr{rows, cols, nnz, static_cast<int32_t*>(offsets), static_cast<int32_t*>(columns),
                               static_cast<float*>(values)};
  return CUSPARSE_STATUS_SUCCESS;
}
inline cusparseStatus_t cusparseCreateConstCsr(cusparseConstSpMatDescr_t* out, int64_t rows, int64_t cols,
                                               int64_t nnz, const void* offsets, const void* columns,
                                               const void* values, cusparseIndexType_t offset_type,
                                               cusparseIndexType_t column_type, cusparseIndexBase_t base,
                                               cudaDataType value_type) {
  if (offsets == nullptr || (nnz > 0 && (columns == nullptr || values == nullptr))) return CUSPARSE_STATUS_INVALID_VALUE;
  cusparseSpMatDescr_t m = nullptr;
  const cusparseStatus_t s = cusparseCreateCsr(&m, rows, cols, nnz, const_cast<void*>(offsets),
                                               const_cast<void*>(columns), const_cast<void*>(values), offset_type,
                                               column_type, base, value_type);
  *out = m;
  return s;
}
inline cusparseStatus_t cusparseDestroySpMat(cusparseConstSpMatDescr_t m) {
  delete m;
  return CUSPARSE_STATUS_SUCCESS;
}
inline cusparseStatus_t cusparseSpMatGetSize(cusparseConstSpMatDescr_t m, int64_t* rows, int64_t* cols, int64_t* nnz) {
  *rows = m->rows;
  *cols = m->cols;
  *nnz = m->nnz;
  return CUSPARSE_STATUS_SUCCESS;
}
inline cusparseStatus_t cusparseCsrSetPointers(cusparseSpMatDescr_t m, void* offsets, void* columns, void* values) {
  m->offsets = static_cast<int32_t*>(offsets);
  m->columns = static_cast<int32_t*>(columns);
  m->values = static_cast<float*>(values);
  return CUSPARSE_STATUS_SUCCESS;
}

inline cusparseStatus_t cusparseSpGEMM_createDescr(cusparseSpGEMMDescr_t* d) {
  *d = new CohortEmulatedSpGEMM;
  return CUSPARSE_STATUS_SUCCESS;
}
inline cusparseStatus_t cusparseSpGEMM_destroyDescr(cusparseSpGEMMDescr_t d) {
  delete d;
  return CUSPARSE_STATUS_SUCCESS;
}

namespace cohort::cuda_emulation {
// C = alpha * A * B (beta must be 0: C starts empty), the checks cuSPARSE makes first.
inline cusparseStatus_t spgemm_arguments_ok(cusparseOperation_t op_a, cusparseOperation_t op_b, const void* beta,
                                            cusparseConstSpMatDescr_t a, cusparseConstSpMatDescr_t b,
                                            cusparseSpMatDescr_t c, cudaDataType type, std::size_t* bytes) {
  if (op_a != CUSPARSE_OPERATION_NON_TRANSPOSE || op_b != CUSPARSE_OPERATION_NON_TRANSPOSE || type != CUDA_R_32F)
    return CUSPARSE_STATUS_NOT_SUPPORTED;
  if (*static_cast<const float*>(beta) != 0.0f) return CUSPARSE_STATUS_NOT_SUPPORTED;
  if (a->cols != b->rows || c->rows != a->rows || c->cols != b->cols || bytes == nullptr)
    return CUSPARSE_STATUS_INVALID_VALUE;
  return CUSPARSE_STATUS_SUCCESS;
}
// The two-call protocol of the work buffers: a null buffer asks for the size; a buffer of at
// least that size is needed to go on.
inline bool wants_size(void* buffer, std::size_t* bytes, std::size_t needed, cusparseStatus_t* status) {
  *status = CUSPARSE_STATUS_SUCCESS;
  if (buffer == nullptr) {
    *bytes = needed;
    return true;
  }
  if (*bytes < needed) *status = CUSPARSE_STATUS_INSUFFICIENT_RESOURCES;
  return *status != CUSPARSE_STATUS_SUCCESS;
}
}  // namespace cohort::cuda_emulation

inline cusparseStatus_t cusparseSpGEMM_workEstimation(cusparseHandle_t, cusparseOperation_t op_a,
                                                      cusparseOperation_t op_b, const void*,
                                                      cusparseConstSpMatDescr_t a, cusparseConstSpMatDescr_t b,
                                                      const void* beta, cusparseSpMatDescr_t c, cudaDataType type,
                                                      cusparseSpGEMMAlg_t, cusparseSpGEMMDescr_t,
                                                      std::size_t* bytes, void* buffer) {
  cusparseStatus_t s = cohort::cuda_emulation::spgemm_arguments_ok(op_a, op_b, beta, a, b, c, type, bytes);
  if (s != CUSPARSE_STATUS_SUCCESS) return s;
  cohort::cuda_emulation::wants_size(buffer, bytes, 16, &s);
  return s;
}

inline cusparseStatus_t cusparseSpGEMM_compute(cusparseHandle_t, cusparseOperation_t op_a, cusparseOperation_t op_b,
                                               const void* alpha, cusparseConstSpMatDescr_t a,
                                               cusparseConstSpMatDescr_t b, const void* beta, cusparseSpMatDescr_t c,
                                               cudaDataType type, cusparseSpGEMMAlg_t, cusparseSpGEMMDescr_t gemm,
                                               std::size_t* bytes, void* buffer) {
  cusparseStatus_t s = cohort::cuda_emulation::spgemm_arguments_ok(op_a, op_b, beta, a, b, c, type, bytes);
  if (s != CUSPARSE_STATUS_SUCCESS) return s;
  if (cohort::cuda_emulation::wants_size(buffer, bytes, 16, &s)) return s;
  // Row by row: a dense accumulator over B's columns and the list of columns touched, kept in
  // ascending order.
  const float scale = *static_cast<const float*>(alpha);
  std::vector<float> acc(static_cast<std::size_t>(b->cols), 0.0f);
  std::vector<char> touched(static_cast<std::size_t>(b->cols), 0);
  std::vector<int32_t> list;
  gemm->offsets.assign(1, 0);
  gemm->columns.clear();
  gemm->values.clear();
  for (int64_t r = 0; r < a->rows; ++r) {
    list.clear();
    for (int32_t p = a->offsets[r]; p < a->offsets[r + 1]; ++p) {
      const int32_t k = a->columns[p];
      const float av = a->values[p];
      for (int32_t q = b->offsets[k]; q < b->offsets[k + 1]; ++q) {
        const int32_t j = b->columns[q];
        if (!touched[static_cast<std::size_t>(j)]) {
          touched[static_cast<std::size_t>(j)] = 1;
          list.push_back(j);
        }
        acc[static_cast<std::size_t>(j)] += av * b->values[q];
      }
    }
    std::sort(list.begin(), list.end());
    for (const int32_t j : list) {
      gemm->columns.push_back(j);
      gemm->values.push_back(scale * acc[static_cast<std::size_t>(j)]);
      acc[static_cast<std::size_t>(j)] = 0.0f;
      touched[static_cast<std::size_t>(j)] = 0;
    }
    gemm->offsets.push_back(static_cast<int32_t>(gemm->columns.size()));
  }
  gemm->computed = true;
  c->nnz = static_cast<int64_t>(gemm->columns.size());
  return CUSPARSE_STATUS_SUCCESS;
}

inline cusparseStatus_t cusparseSpGEMM_copy(cusparseHandle_t, cusparseOperation_t op_a, cusparseOperation_t op_b,
                                            const void*, cusparseConstSpMatDescr_t a, cusparseConstSpMatDescr_t b,
                                            const void* beta, cusparseSpMatDescr_t c, cudaDataType type,
                                            cusparseSpGEMMAlg_t, cusparseSpGEMMDescr_t gemm) {
  std::size_t unused = 0;
  const cusparseStatus_t s = cohort::cuda_emulation::spgemm_arguments_ok(op_a, op_b, beta, a, b, c, type, &unused);
  if (s != CUSPARSE_STATUS_SUCCESS) return s;
  if (!gemm->computed) return CUSPARSE_STATUS_NOT_INITIALIZED;
  if (c->offsets == nullptr || (c->nnz > 0 && (c->columns == nullptr || c->values == nullptr)))
    return CUSPARSE_STATUS_INVALID_VALUE;
  std::copy(gemm->offsets.begin(), gemm->offsets.end(), c->offsets);
  std::copy(gemm->columns.begin(), gemm->columns.end(), c->columns);
  std::copy(gemm->values.begin(), gemm->values.end(), c->values);
  return CUSPARSE_STATUS_SUCCESS;
}
