// The reference path of topk_cosine, built from libraries only: C = a[rows] * a^T by cuSPARSE
// SpGEMM, scores normalised by the row norms, each row of C sorted by (score desc, index asc)
// with cub's segmented sorts, the first k positive scores kept. Slow in memory (C is formed
// whole); used by tests and benchmarks to check and time the custom kernel.
#ifdef COHORT_CUDA_EMULATION
#include "kernels/cuda/cpu_emulation_cusparse.hpp"
#else
#include <cusparse.h>

#include <cub/device/device_segmented_sort.cuh>
#endif

#include <algorithm>
#include <optional>

#include "kernels/cuda/cuda_ops.cuh"
#include "kernels/cuda/device_util.cuh"

#define COHORT_CUSPARSE_CHECK(stmt)                                                                  \
  do {                                                                                               \
    cusparseStatus_t cohort_sp_ = (stmt);                                                            \
    if (cohort_sp_ != CUSPARSE_STATUS_SUCCESS)                                                       \
      COHORT_FAIL(::cohort::Status::backend_error, "cuSPARSE error {} ({}) in `{}` at {}:{}",        \
                  static_cast<int>(cohort_sp_), cusparseGetErrorString(cohort_sp_), #stmt, __FILE__, \
                  __LINE__);                                                                         \
  } while (0)

COHORT_CUDA_NAMESPACE_BEGIN
namespace {

// Owns the handles and descriptors of one SpGEMM; destroyed in reverse order.
struct SparseHandles {
  cusparseHandle_t handle = nullptr;
  cusparseSpMatDescr_t a = nullptr, b = nullptr, c = nullptr;
  cusparseConstSpMatDescr_t const_a = nullptr, const_b = nullptr;
  cusparseSpGEMMDescr_t gemm = nullptr;
  ~SparseHandles() {
    if (gemm != nullptr) cusparseSpGEMM_destroyDescr(gemm);
    if (c != nullptr) cusparseDestroySpMat(c);
    if (const_b != nullptr) cusparseDestroySpMat(const_b);
    if (const_a != nullptr) cusparseDestroySpMat(const_a);
    if (handle != nullptr) cusparseDestroy(handle);
  }
};

__global__ void rebase_offsets_kernel(const int64_t* indptr, int64_t first, int64_t count, int32_t* out) {
  for (int64_t r = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; r <= count; r += int64_t{gridDim.x} * blockDim.x) {
    out[r] = static_cast<int32_t>(indptr[first + r] - indptr[first]);
  }
}

__global__ void fill_ones_kernel(float* v, int64_t n) {
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < n; e += int64_t{gridDim.x} * blockDim.x) v[e] = 1.0f;
}

// One thread per entry of C: the cosine, or -inf for an entry that may not be listed.
__global__ void cosine_scores_kernel(const int32_t* offsets, const int32_t* columns, float* values, int64_t rows,
                                     const float* norm, int64_t row_begin, bool exclude_self) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t i = row_begin + r;
    for (int32_t e = offsets[r] + threadIdx.x; e < offsets[r + 1]; e += blockDim.x) {
      const int32_t j = columns[e];
      const float s = values[e] / (norm[i] * norm[j]);
      values[e] = (exclude_self && j == i) || !(s > 0.0f) ? -INFINITY : s;
    }
  }
}

__global__ void take_topk_kernel(const int32_t* offsets, const int32_t* columns, const float* scores, int64_t rows,
                                 int k, int32_t* out_index, float* out_score) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int32_t begin = offsets[r];
    const int32_t len = offsets[r + 1] - begin;
    for (int t = threadIdx.x; t < k; t += blockDim.x) {
      const bool ok = t < len && scores[begin + t] > 0.0f;
      out_index[r * k + t] = ok ? columns[begin + t] : -1;
      out_score[r * k + t] = ok ? scores[begin + t] : 0.0f;
    }
  }
}

}  // namespace

void topk_cosine_reference(DeviceContext& ctx, CsrView a, CsrView a_t, int64_t row_begin, int64_t row_end, int k,
                           bool exclude_self, int32_t* out_index, float* out_score) {
  check_topk_cosine_gpu_args(a, a_t, row_begin, row_end, k, out_index, out_score);
  const int64_t rows = row_end - row_begin;
  if (rows == 0 || k == 0) return;
  COHORT_CHECK(a.nnz <= INT32_MAX, "topk_cosine_reference: {} entries exceed cuSPARSE's int32 indices", a.nnz);
  cudaStream_t stream = ctx.stream();

  int64_t span[2] = {0, 0};
  COHORT_CUDA_CHECK(cudaMemcpyAsync(&span[0], a.indptr + row_begin, sizeof(int64_t), cudaMemcpyDeviceToHost, stream));
  COHORT_CUDA_CHECK(cudaMemcpyAsync(&span[1], a.indptr + row_end, sizeof(int64_t), cudaMemcpyDeviceToHost, stream));
  ctx.synchronize();
  const int64_t sub_nnz = span[1] - span[0];

  DeviceScratch<float> norm(ctx, a.rows);
  topk_cosine_row_norms(ctx, a, norm.data());
  DeviceScratch<int32_t> a_offsets(ctx, rows + 1);
  DeviceScratch<int32_t> b_offsets(ctx, a_t.rows + 1);
  launch_kernel(rebase_offsets_kernel, grid_for(ctx, rows + 1, 256), 256, 0, stream, a.indptr, row_begin, rows,
                a_offsets.data());
  launch_kernel(rebase_offsets_kernel, grid_for(ctx, a_t.rows + 1, 256), 256, 0, stream, a_t.indptr, 0, a_t.rows,
                b_offsets.data());
  DeviceScratch<float> ones(ctx, (a.values == nullptr || a_t.values == nullptr) ? a.nnz : 0);
  if (ones.size() > 0) {
    launch_kernel(fill_ones_kernel, grid_for(ctx, a.nnz, 256), 256, 0, stream, ones.data(), a.nnz);
  }
  const float* a_values = a.values != nullptr ? a.values + span[0] : ones.data();
  const float* b_values = a_t.values != nullptr ? a_t.values : ones.data();

  const float alpha = 1.0f;
  const float beta = 0.0f;
  const auto op = CUSPARSE_OPERATION_NON_TRANSPOSE;
  const auto alg = CUSPARSE_SPGEMM_DEFAULT;
  int64_t c_nnz = 0;
  DeviceScratch<int32_t> c_offsets(ctx, rows + 1);
  std::optional<DeviceScratch<int32_t>> c_columns_store;
  std::optional<DeviceScratch<float>> c_values_store;
  // Only a non-empty product goes through cuSPARSE: its descriptors want non-null arrays.
  SparseHandles h;
  if (sub_nnz > 0 && a.nnz > 0) {
    COHORT_CUSPARSE_CHECK(cusparseCreate(&h.handle));
    COHORT_CUSPARSE_CHECK(cusparseSetStream(h.handle, stream));
    COHORT_CUSPARSE_CHECK(cusparseCreateConstCsr(&h.const_a, rows, a.cols, sub_nnz, a_offsets.data(),
                                                 a.indices + span[0], a_values, CUSPARSE_INDEX_32I,
                                                 CUSPARSE_INDEX_32I, CUSPARSE_INDEX_BASE_ZERO, CUDA_R_32F));
    COHORT_CUSPARSE_CHECK(cusparseCreateConstCsr(&h.const_b, a_t.rows, a_t.cols, a_t.nnz, b_offsets.data(),
                                                 a_t.indices, b_values, CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I,
                                                 CUSPARSE_INDEX_BASE_ZERO, CUDA_R_32F));
    COHORT_CUSPARSE_CHECK(cusparseCreateCsr(&h.c, rows, a.rows, 0, nullptr, nullptr, nullptr, CUSPARSE_INDEX_32I,
                                            CUSPARSE_INDEX_32I, CUSPARSE_INDEX_BASE_ZERO, CUDA_R_32F));
    COHORT_CUSPARSE_CHECK(cusparseSpGEMM_createDescr(&h.gemm));
    size_t bytes1 = 0;
    COHORT_CUSPARSE_CHECK(cusparseSpGEMM_workEstimation(h.handle, op, op, &alpha, h.const_a, h.const_b, &beta, h.c,
                                                        CUDA_R_32F, alg, h.gemm, &bytes1, nullptr));
    DeviceScratch<unsigned char> buffer1(ctx, static_cast<int64_t>(bytes1));
    COHORT_CUSPARSE_CHECK(cusparseSpGEMM_workEstimation(h.handle, op, op, &alpha, h.const_a, h.const_b, &beta, h.c,
                                                        CUDA_R_32F, alg, h.gemm, &bytes1, buffer1.data()));
    size_t bytes2 = 0;
    COHORT_CUSPARSE_CHECK(cusparseSpGEMM_compute(h.handle, op, op, &alpha, h.const_a, h.const_b, &beta, h.c,
                                                 CUDA_R_32F, alg, h.gemm, &bytes2, nullptr));
    DeviceScratch<unsigned char> buffer2(ctx, static_cast<int64_t>(bytes2));
    COHORT_CUSPARSE_CHECK(cusparseSpGEMM_compute(h.handle, op, op, &alpha, h.const_a, h.const_b, &beta, h.c,
                                                 CUDA_R_32F, alg, h.gemm, &bytes2, buffer2.data()));
    int64_t c_rows = 0, c_cols = 0;
    COHORT_CUSPARSE_CHECK(cusparseSpMatGetSize(h.c, &c_rows, &c_cols, &c_nnz));
    COHORT_CHECK(c_nnz <= INT32_MAX, "topk_cosine_reference: the product has {} entries, beyond int32", c_nnz);
    c_columns_store.emplace(ctx, c_nnz);
    c_values_store.emplace(ctx, c_nnz);
    COHORT_CUSPARSE_CHECK(
        cusparseCsrSetPointers(h.c, c_offsets.data(), c_columns_store->data(), c_values_store->data()));
    COHORT_CUSPARSE_CHECK(cusparseSpGEMM_copy(h.handle, op, op, &alpha, h.const_a, h.const_b, &beta, h.c, CUDA_R_32F,
                                              alg, h.gemm));
  } else {
    COHORT_CUDA_CHECK(cudaMemsetAsync(c_offsets.data(), 0, static_cast<size_t>(rows + 1) * sizeof(int32_t), stream));
  }

  int32_t* c_columns = c_columns_store ? c_columns_store->data() : nullptr;
  float* c_values = c_values_store ? c_values_store->data() : nullptr;
  const unsigned row_grid = static_cast<unsigned>(std::min<int64_t>(rows, int64_t{1} << 20));
  if (c_nnz > 0) {
    launch_kernel(cosine_scores_kernel, row_grid, 256, 0, stream, c_offsets.data(), c_columns, c_values, rows,
                  norm.data(), row_begin, exclude_self);
    // By column first, then a stable sort by descending score: ties keep ascending index.
    DeviceScratch<int32_t> columns_sorted(ctx, c_nnz);
    DeviceScratch<float> scores_sorted(ctx, c_nnz);
    const int32_t* begins = c_offsets.data();
    const int32_t* ends = c_offsets.data() + 1;
    run_cub(ctx, [&](void* temp, size_t& bytes) {
      return cub::DeviceSegmentedSort::SortPairs(temp, bytes, c_columns, columns_sorted.data(), c_values,
                                                 scores_sorted.data(), c_nnz, rows, begins, ends, stream);
    });
    run_cub(ctx, [&](void* temp, size_t& bytes) {
      return cub::DeviceSegmentedSort::StableSortPairsDescending(temp, bytes, scores_sorted.data(), c_values,
                                                                 columns_sorted.data(), c_columns, c_nnz, rows,
                                                                 begins, ends, stream);
    });
  }
  launch_kernel(take_topk_kernel, row_grid, 128, 0, stream, c_offsets.data(), c_columns, c_values, rows, k, out_index,
                out_score);
  // The descriptors and scratch die with this scope; finish the work that reads them first.
  ctx.synchronize();
}

COHORT_CUDA_NAMESPACE_END
