// Top-k scoring of users over the catalogue.
//   score_topk: U.Vt for a tile of users by cuBLAS into a tile x items scratch, excluded items
//               overwritten with -inf (a mark, never a score), then one block per user adds the
//               group term and selects with block_topk.
//   knn_score_topk: one block per user accumulates its items' neighbour lists into a dense
//               row (shared memory when the catalogue fits, else a global slice per block with
//               a list of touched items); candidates are the touched, non-excluded items.
#include <algorithm>

#include "kernels/backend_checks.hpp"
#include "kernels/cuda/cuda_ops.cuh"
#include "kernels/cuda/device_util.cuh"

namespace cohort::cuda {
namespace {

constexpr int64_t kScoreScratchFloats = int64_t{64} << 20;
constexpr int64_t kScoreMaxTile = 4096;
constexpr int64_t kKnnScratchBytes = int64_t{1} << 30;
constexpr int kBadGroup = 1;
constexpr int kBadIndex = 2;

// Marks row u's excluded items in the tile with -inf; a block per row.
__global__ void mask_excluded_kernel(CsrView exclude, int64_t row0, int64_t rows, int64_t items, float* tile) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t u = row0 + r;
    for (int64_t p = exclude.indptr[u] + threadIdx.x; p < exclude.indptr[u + 1]; p += blockDim.x) {
      const int32_t j = exclude.indices[p];
      if (j >= 0 && j < items) tile[r * items + j] = -INFINITY;
    }
  }
}

struct ScoreArgs {
  const float* tile;  // rows x items: dots (or zeros), -inf where excluded
  bool has_dot;
  const float* dot_weight;
  const float* group_scores;
  int64_t group_rows;
  int64_t group_ld;
  const int32_t* user_group;
  const float* group_weight;
  int64_t items;
  int k;
};

__global__ void __launch_bounds__(kTopkThreads)
    score_rows_kernel(ScoreArgs a, int64_t row0, int64_t rows, int32_t* out_index, float* out_score, int* flag) {
  __shared__ TopkShared top;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t u = row0 + r;
    const float dw = a.dot_weight != nullptr ? a.dot_weight[u] : 1.0f;
    const float gw = a.group_weight != nullptr ? a.group_weight[u] : 1.0f;
    const float* group = nullptr;
    int64_t count = a.items;
    if (a.group_scores != nullptr) {
      const int32_t g = a.user_group[u];
      if (g < 0 || g >= a.group_rows) {
        if (threadIdx.x == 0) atomicOr(flag, kBadGroup);
        count = 0;
      } else {
        group = a.group_scores + g * a.group_ld;
      }
    }
    const float* dots = a.tile + r * a.items;
    block_topk(
        top, count, a.k,
        [&](int64_t i, float* score, int32_t* index) {
          const float raw = dots[i];
          if (raw == -INFINITY) return false;
          float s = a.has_dot ? dw * raw : 0.0f;
          if (group != nullptr) s += gw * group[i];
          *score = s;
          *index = static_cast<int32_t>(i);
          return true;
        },
        out_index + u * a.k, out_score + u * a.k);
  }
}

struct KnnArgs {
  CsrView user_items;
  const int32_t* neighbour_index;
  const float* neighbour_score;
  int neighbours;
  int64_t items;
  CsrView exclude;
  int k;
};

// Calls add(i, value_uj * sim(j, i)) for every stored neighbour i of every item j of row u.
template <class Add>
__device__ void walk_neighbours(const KnnArgs& a, int64_t u, int* flag, Add add) {
  const int lane = threadIdx.x & 31;
  for (int64_t p = a.user_items.indptr[u] + threadIdx.x / 32; p < a.user_items.indptr[u + 1]; p += blockDim.x / 32) {
    const int32_t j = a.user_items.indices[p];
    if (j < 0 || j >= a.items) {
      if (lane == 0) atomicOr(flag, kBadIndex);
      continue;
    }
    const float v = csr_value(a.user_items.values, p);
    const int32_t* nb = a.neighbour_index + static_cast<int64_t>(j) * a.neighbours;
    const float* ns = a.neighbour_score + static_cast<int64_t>(j) * a.neighbours;
    for (int t = lane; t < a.neighbours; t += 32) {
      const int32_t i = nb[t];
      if (i < 0) continue;
      if (i >= a.items) {
        atomicOr(flag, kBadIndex);
        continue;
      }
      add(i, v * ns[t]);
    }
  }
}

// state[i]: 0 untouched, 1 a candidate, 2 touched but excluded.
template <bool kShared>
__global__ void __launch_bounds__(kTopkThreads)
    knn_rows_kernel(KnnArgs a, int32_t* out_index, float* out_score, int* flag, float* global_acc, int* global_state,
                    int32_t* global_list) {
  extern __shared__ float shared_acc[];
  __shared__ TopkShared top;
  __shared__ int touched;
  float* acc = kShared ? shared_acc : global_acc + blockIdx.x * a.items;
  unsigned char* shared_state = reinterpret_cast<unsigned char*>(shared_acc + a.items);
  int* state = kShared ? nullptr : global_state + blockIdx.x * a.items;
  int32_t* list = kShared ? nullptr : global_list + blockIdx.x * a.items;
  const int64_t rows = a.user_items.rows;
  for (int64_t u = blockIdx.x; u < rows; u += gridDim.x) {
    if (kShared) {
      for (int64_t i = threadIdx.x; i < a.items; i += blockDim.x) {
        acc[i] = 0.0f;
        shared_state[i] = 0;
      }
    }
    if (threadIdx.x == 0) touched = 0;
    __syncthreads();
    walk_neighbours(a, u, flag, [&](int32_t i, float v) {
      if (kShared) {
        shared_state[i] = 1;
      } else if (atomicExch(&state[i], 1) == 0) {
        list[atomicAdd(&touched, 1)] = i;
      }
      atomicAdd(&acc[i], v);
    });
    __syncthreads();
    if (a.exclude.rows != 0) {
      for (int64_t p = a.exclude.indptr[u] + threadIdx.x; p < a.exclude.indptr[u + 1]; p += blockDim.x) {
        const int32_t e = a.exclude.indices[p];
        if (e < 0 || e >= a.items) continue;
        if (kShared) {
          if (shared_state[e] == 1) shared_state[e] = 2;
        } else {
          atomicCAS(&state[e], 1, 2);
        }
      }
    }
    __syncthreads();
    block_topk(
        top, kShared ? a.items : touched, a.k,
        [&](int64_t c, float* score, int32_t* index) {
          const int32_t i = kShared ? static_cast<int32_t>(c) : list[c];
          if ((kShared ? static_cast<int>(shared_state[i]) : state[i]) != 1) return false;
          *score = acc[i];
          *index = i;
          return true;
        },
        out_index + u * a.k, out_score + u * a.k);
    if (!kShared) {
      for (int c = threadIdx.x; c < touched; c += blockDim.x) {
        const int32_t i = list[c];
        acc[i] = 0.0f;
        state[i] = 0;
      }
      __syncthreads();
    }
  }
}

}  // namespace

void score_topk(DeviceContext& ctx, const ScoreTerms& terms, int64_t rows, int64_t items, CsrView exclude, int k,
                int32_t* out_index, float* out_score) {
  check_score_topk_args(terms, rows, items, exclude, k, out_index, out_score);
  COHORT_CHECK(k <= kMaxTopK, "score_topk: k = {} exceeds the GPU limit of {}", k, kMaxTopK);
  if (rows == 0 || k == 0) return;
  const bool has_dot = terms.user_factors.data != nullptr;

  const int64_t tile_rows = std::clamp(kScoreScratchFloats / std::max<int64_t>(items, 1), int64_t{1}, kScoreMaxTile);
  DeviceScratch<float> tile(ctx, std::min(tile_rows, rows) * items);
  DeviceFlag flag(ctx);
  const ScoreArgs args{tile.data(),        has_dot,           terms.dot_weight, terms.group_scores.data,
                       terms.group_scores.rows, terms.group_scores.ld, terms.user_group, terms.group_weight,
                       items,              k};
  for (int64_t begin = 0; begin < rows; begin += tile_rows) {
    const int64_t n = std::min(tile_rows, rows - begin);
    if (items > 0) {
      if (has_dot) {
        gemm_nt(ctx, 1.0f, terms.user_factors.rows_range(begin, begin + n), terms.item_factors, 0.0f,
                MatrixView<float>(tile.data(), n, items));
      } else {
        COHORT_CUDA_CHECK(
            cudaMemsetAsync(tile.data(), 0, static_cast<size_t>(n * items) * sizeof(float), ctx.stream()));
      }
      if (exclude.rows != 0) {
        mask_excluded_kernel<<<static_cast<unsigned>(n), 128, 0, ctx.stream()>>>(exclude, begin, n, items,
                                                                                 tile.data());
        COHORT_CUDA_CHECK_LAUNCH();
      }
    }
    score_rows_kernel<<<static_cast<unsigned>(n), kTopkThreads, 0, ctx.stream()>>>(args, begin, n, out_index,
                                                                                  out_score, flag.data());
    COHORT_CUDA_CHECK_LAUNCH();
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
    knn_rows_kernel<true><<<grid, kTopkThreads, static_cast<size_t>(shared_bytes), ctx.stream()>>>(
        args, out_index, out_score, flag.data(), nullptr, nullptr, nullptr);
    COHORT_CUDA_CHECK_LAUNCH();
  } else {
    const int64_t grid = std::max<int64_t>(1, std::min({rows, sms * 4, kKnnScratchBytes / (items * 12)}));
    DeviceScratch<float> acc(ctx, grid * items);
    DeviceScratch<int> state(ctx, grid * items);
    DeviceScratch<int32_t> list(ctx, grid * items);
    COHORT_CUDA_CHECK(cudaMemsetAsync(acc.data(), 0, static_cast<size_t>(grid * items) * sizeof(float), ctx.stream()));
    COHORT_CUDA_CHECK(cudaMemsetAsync(state.data(), 0, static_cast<size_t>(grid * items) * sizeof(int), ctx.stream()));
    knn_rows_kernel<false><<<static_cast<unsigned>(grid), kTopkThreads, 0, ctx.stream()>>>(
        args, out_index, out_score, flag.data(), acc.data(), state.data(), list.data());
    COHORT_CUDA_CHECK_LAUNCH();
  }
  COHORT_CHECK_STATUS(flag.read() == 0, Status::bad_input,
                      "knn_score_topk: an item index is out of range in user_items or the neighbour lists");
}

}  // namespace cohort::cuda
