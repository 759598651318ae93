// Sparse top-k cosine neighbours: the launchers of similarity_kernels.cuh (how the kernels
// work is described there).
#include <algorithm>

#include "kernels/backend_checks.hpp"
#include "kernels/cuda/cuda_ops.cuh"
#include "kernels/cuda/device_util.cuh"
#include "kernels/cuda/similarity_kernels.cuh"

COHORT_CUDA_NAMESPACE_BEGIN
namespace {

constexpr int64_t kDenseScratchBytes = int64_t{1} << 30;

// The kernels index rows with int32.
void check_rows_int32(const char* what, const CsrView& m) {
  COHORT_CHECK(m.rows <= INT32_MAX, "topk_cosine: {} has {} rows, beyond the int32 index range", what, m.rows);
}

}  // namespace

void topk_cosine_row_norms(DeviceContext& ctx, CsrView a, float* norm) {
  if (a.rows == 0) return;
  launch_kernel(csr_row_norms_kernel, grid_for(ctx, a.rows * 32, 256), 256, 0, ctx.stream(), a, norm);
}

void check_topk_cosine_gpu_args(CsrView a, CsrView a_t, int64_t row_begin, int64_t row_end, int k,
                                const int32_t* out_index, const float* out_score) {
  check_topk_cosine_args(a, a_t, row_begin, row_end, k, out_index, out_score);
  check_rows_int32("a", a);
  check_rows_int32("a_t", a_t);
  COHORT_CHECK(k <= kMaxTopK, "topk_cosine: k must be in [0, {}], got {}", kMaxTopK, k);
}

void topk_cosine(DeviceContext& ctx, CsrView a, CsrView a_t, int64_t row_begin, int64_t row_end, int k,
                 bool exclude_self, int32_t* out_index, float* out_score) {
  check_topk_cosine_gpu_args(a, a_t, row_begin, row_end, k, out_index, out_score);
  const int64_t out_rows = row_end - row_begin;
  if (out_rows == 0 || k == 0) return;

  DeviceScratch<float> norm(ctx, a.rows);
  topk_cosine_row_norms(ctx, a, norm.data());
  DeviceFlag flag(ctx);
  const int64_t sms = ctx.properties().multiProcessorCount;
  const unsigned hash_grid = static_cast<unsigned>(std::min<int64_t>(out_rows, int64_t{1} << 20));
  launch_kernel(topk_cosine_hash_kernel, hash_grid, kTopkThreads, 0, ctx.stream(), a, a_t, norm.data(), row_begin,
                out_rows, k, exclude_self, out_index, out_score, flag.data());

  // Rows with many products: dense accumulators, in shared memory when a.rows of them fit
  // next to the static shared memory of the kernel.
  if (a.rows > kHashMaxKeys) {
    const int64_t static_bytes = static_cast<int64_t>(sizeof(TopkShared)) + 64;
    const int64_t shared_bytes = a.rows * static_cast<int64_t>(sizeof(float));
    if (shared_bytes + static_bytes <= static_cast<int64_t>(ctx.properties().sharedMemPerBlockOptin)) {
      COHORT_CUDA_CHECK(cudaFuncSetAttribute(topk_cosine_dense_kernel<true>,
                                             cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             static_cast<int>(shared_bytes)));
      const unsigned grid = static_cast<unsigned>(std::min<int64_t>(out_rows, sms * 2));
      launch_kernel(topk_cosine_dense_kernel<true>, grid, kTopkThreads, static_cast<size_t>(shared_bytes), ctx.stream(),
                    a, a_t, norm.data(), row_begin, out_rows, k, exclude_self, out_index, out_score, flag.data(),
                    nullptr, nullptr, nullptr);
    } else {
      const int64_t per_block = a.rows * 12;
      const int64_t grid = std::max<int64_t>(1, std::min({out_rows, sms * 2, kDenseScratchBytes / per_block}));
      DeviceScratch<float> acc(ctx, grid * a.rows);
      DeviceScratch<int> mark(ctx, grid * a.rows);
      DeviceScratch<int32_t> list(ctx, grid * a.rows);
      COHORT_CUDA_CHECK(cudaMemsetAsync(acc.data(), 0, static_cast<size_t>(grid * a.rows) * sizeof(float), ctx.stream()));
      COHORT_CUDA_CHECK(cudaMemsetAsync(mark.data(), 0, static_cast<size_t>(grid * a.rows) * sizeof(int), ctx.stream()));
      launch_kernel(topk_cosine_dense_kernel<false>, static_cast<unsigned>(grid), kTopkThreads, 0, ctx.stream(), a, a_t,
                    norm.data(), row_begin, out_rows, k, exclude_self, out_index, out_score, flag.data(), acc.data(),
                    mark.data(), list.data());
    }
  }
  COHORT_CHECK_STATUS(flag.read() == 0, Status::bad_input, "topk_cosine: a column index of a or a_t is out of range");
}

COHORT_CUDA_NAMESPACE_END
