// Top-k scoring of users over the catalogue: the launchers of scoring_kernels.cuh (how the
// kernels work is described there). score_topk computes U.Vt a tile of users at a time by
// cuBLAS, or copies the tile from precomputed dots.
#include <algorithm>

#include "kernels/backend_checks.hpp"
#include "kernels/cuda/cuda_ops.cuh"
#include "kernels/cuda/device_util.cuh"
#include "kernels/cuda/scoring_kernels.cuh"

COHORT_CUDA_NAMESPACE_BEGIN
namespace {

constexpr int64_t kScoreScratchFloats = int64_t{64} << 20;
constexpr int64_t kScoreMaxTile = 4096;
constexpr int64_t kKnnScratchBytes = int64_t{1} << 30;

}  // namespace

void score_topk(DeviceContext& ctx, const ScoreTerms& terms, int64_t rows, int64_t items, CsrView exclude, int k,
                int32_t* out_index, float* out_score) {
  check_score_topk_args(terms, rows, items, exclude, k, out_index, out_score);
  COHORT_CHECK(k <= kMaxTopK, "score_topk: k = {} exceeds the GPU limit of {}", k, kMaxTopK);
  if (rows == 0 || k == 0) return;
  const bool has_dots = terms.dots.data != nullptr;  // precomputed: copied into the tile
  const bool has_dot = terms.user_factors.data != nullptr || has_dots;

  const int64_t tile_rows = std::clamp(kScoreScratchFloats / std::max<int64_t>(items, 1), int64_t{1}, kScoreMaxTile);
  DeviceScratch<float> tile(ctx, std::min(tile_rows, rows) * items);
  DeviceFlag flag(ctx);
  const ScoreArgs args{tile.data(),        has_dot,           terms.dot_weight, terms.group_scores.data,
                       terms.group_scores.rows, terms.group_scores.ld, terms.user_group, terms.group_weight,
                       items,              k};
  for (int64_t begin = 0; begin < rows; begin += tile_rows) {
    const int64_t n = std::min(tile_rows, rows - begin);
    if (items > 0) {
      if (has_dots) {
        COHORT_CUDA_CHECK(cudaMemcpyAsync(tile.data(), terms.dots.data + begin * items,
                                          static_cast<size_t>(n * items) * sizeof(float), cudaMemcpyDeviceToDevice,
                                          ctx.stream()));
      } else if (has_dot) {
        gemm_nt(ctx, 1.0f, terms.user_factors.rows_range(begin, begin + n), terms.item_factors, 0.0f,
                MatrixView<float>(tile.data(), n, items));
      } else {
        COHORT_CUDA_CHECK(
            cudaMemsetAsync(tile.data(), 0, static_cast<size_t>(n * items) * sizeof(float), ctx.stream()));
      }
      if (exclude.rows != 0) {
        launch_kernel(mask_excluded_kernel, static_cast<unsigned>(n), 128, 0, ctx.stream(), exclude, begin, n, items,
                      tile.data());
      }
    }
    launch_kernel(score_rows_kernel, static_cast<unsigned>(n), kTopkThreads, 0, ctx.stream(), args, begin, n, out_index,
                  out_score, flag.data());
  }
  COHORT_CHECK(flag.read() == 0, "score_topk: a user's group is outside [0, {})", terms.group_scores.rows);
}

void knn_score_topk(DeviceContext& ctx, CsrView user_items, const int32_t* neighbour_index,
                    const float* neighbour_score, int neighbours, int64_t items, CsrView exclude, int k,
                    int32_t* out_index, float* out_score) {
  check_knn_score_topk_args(user_items, neighbour_index, neighbour_score, neighbours, items, exclude, k, out_index,
                            out_score);
  COHORT_CHECK(k <= kMaxTopK, "knn_score_topk: k = {} exceeds the GPU limit of {}", k, kMaxTopK);
  const int64_t rows = user_items.rows;
  if (rows == 0 || k == 0) return;

  const KnnArgs args{user_items, neighbour_index, neighbour_score, neighbours, items, exclude, k};
  DeviceFlag flag(ctx);
  const int64_t sms = ctx.properties().multiProcessorCount;
  const int64_t shared_bytes = (items * 5 + 15) / 16 * 16;
  const int64_t static_bytes = static_cast<int64_t>(sizeof(TopkShared)) + 64;
  if (shared_bytes + static_bytes <= static_cast<int64_t>(ctx.properties().sharedMemPerBlockOptin)) {
    COHORT_CUDA_CHECK(cudaFuncSetAttribute(knn_rows_kernel<true>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(shared_bytes)));
    const unsigned grid = static_cast<unsigned>(std::min<int64_t>(rows, sms * 8));
    launch_kernel(knn_rows_kernel<true>, grid, kTopkThreads, static_cast<size_t>(shared_bytes), ctx.stream(), args,
                  out_index, out_score, flag.data(), nullptr, nullptr, nullptr);
  } else {
    const int64_t grid = std::max<int64_t>(1, std::min({rows, sms * 4, kKnnScratchBytes / (items * 12)}));
    DeviceScratch<float> acc(ctx, grid * items);
    DeviceScratch<int> state(ctx, grid * items);
    DeviceScratch<int32_t> list(ctx, grid * items);
    COHORT_CUDA_CHECK(cudaMemsetAsync(acc.data(), 0, static_cast<size_t>(grid * items) * sizeof(float), ctx.stream()));
    COHORT_CUDA_CHECK(cudaMemsetAsync(state.data(), 0, static_cast<size_t>(grid * items) * sizeof(int), ctx.stream()));
    launch_kernel(knn_rows_kernel<false>, static_cast<unsigned>(grid), kTopkThreads, 0, ctx.stream(), args, out_index,
                  out_score, flag.data(), acc.data(), state.data(), list.data());
  }
  COHORT_CHECK_STATUS(flag.read() == 0, Status::bad_input,
                      "knn_score_topk: an item index is out of range in user_items or the neighbour lists");
}

COHORT_CUDA_NAMESPACE_END
