// The kernels of top-k scoring of users over the catalogue; launched by scoring.cu, tested on
// the CPU emulation (tests/kernels/scoring_kernels_emulated_test.cpp).
//   score_topk: U.Vt for a tile of users by cuBLAS into a tile x items scratch, excluded items
//               overwritten with -inf (a mark, never a score), then one block per user adds the
//               group term and selects with block_topk.
//   knn_score_topk: one block per user accumulates its items' neighbour lists into a dense
//               row (shared memory when the catalogue fits, else a global slice per block with
//               a list of touched items); candidates are the touched, non-excluded items.
#pragma once

#include <cstdint>

#include "kernels/cuda/device_functions.cuh"
#include "kernels/views.hpp"

COHORT_CUDA_NAMESPACE_BEGIN

constexpr int kScoreBadGroup = 1;
constexpr int kScoreBadIndex = 2;

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
        if (threadIdx.x == 0) atomicOr(flag, kScoreBadGroup);
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
      if (lane == 0) atomicOr(flag, kScoreBadIndex);
      continue;
    }
    const float v = csr_value(a.user_items.values, p);
    const int32_t* nb = a.neighbour_index + static_cast<int64_t>(j) * a.neighbours;
    const float* ns = a.neighbour_score + static_cast<int64_t>(j) * a.neighbours;
    for (int t = lane; t < a.neighbours; t += 32) {
      const int32_t i = nb[t];
      if (i < 0) continue;
      if (i >= a.items) {
        atomicOr(flag, kScoreBadIndex);
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
  COHORT_DYNAMIC_SHARED(float, shared_acc);
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

COHORT_CUDA_NAMESPACE_END
