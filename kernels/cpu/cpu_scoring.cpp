// Top-k scoring of users over the catalogue: dense terms (factors, group scores) and
// item-kNN.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/backend_checks.hpp"
#include "kernels/cpu/cpu_ops.hpp"
#include "kernels/cpu/hot_clones.hpp"
#include "kernels/cpu/topk.hpp"
#include "kernels/error.hpp"

namespace cohort::cpu {
namespace {

// score_topk scores a block of users at a time into a block x items scratch, bounded near
// kScoreScratchFloats (32 MB). Each block is one GEMM and one OpenMP loop: large blocks
// keep the hand-overs between the two few.
constexpr int64_t kScoreMaxBlock = 4096;
constexpr int64_t kScoreScratchFloats = int64_t{8} << 20;

// Without a dot term or per-user weights a user's scores are one row of group_scores, the
// same for every user of the group. Each row named is ranked once (descending score, ties by
// ascending index, NaN left out: TopKSelector's order), and a user's top k are the first k of
// the ranking it has not seen: O(k + seen) a user instead of a pass over every item. The
// popularity and group recommenders score this way.
void group_only_topk(const ScoreTerms& terms, int64_t rows, int64_t items, CsrView exclude, int k,
                     int32_t* out_index, float* out_score, bool& bad_group) {
  const int64_t groups = terms.group_scores.rows;
  std::vector<char> named(static_cast<std::size_t>(groups), 0);
  for (int64_t u = 0; u < rows; ++u) {
    const int32_t g = terms.user_group[u];
    if (g >= 0 && g < groups) named[static_cast<std::size_t>(g)] = 1;
  }
  // No user walks further than k + its excluded items: only that prefix of a ranking is needed
  // (selected, then sorted), which keeps a call's cost near one pass over each group's row.
  int64_t most_excluded = 0;
  for (int64_t u = 0; exclude.rows != 0 && u < rows; ++u)
    most_excluded = std::max(most_excluded, exclude.indptr[u + 1] - exclude.indptr[u]);
  const int64_t prefix = k + most_excluded;
  std::vector<std::vector<int32_t>> ranking(static_cast<std::size_t>(groups));
#pragma omp parallel for schedule(dynamic)
  for (int64_t g = 0; g < groups; ++g) {
    if (!named[static_cast<std::size_t>(g)]) continue;
    const float* score = terms.group_scores.row(g);
    std::vector<int32_t>& order = ranking[static_cast<std::size_t>(g)];
    for (int64_t i = 0; i < items; ++i)
      if (!std::isnan(score[i])) order.push_back(static_cast<int32_t>(i));
    auto ranks_before = [score](int32_t a, int32_t b) {
      return score[a] > score[b] || (score[a] == score[b] && a < b);
    };
    if (prefix < static_cast<int64_t>(order.size())) {
      std::nth_element(order.begin(), order.begin() + prefix, order.end(), ranks_before);
      order.resize(static_cast<std::size_t>(prefix));
    }
    std::sort(order.begin(), order.end(), ranks_before);
  }
#pragma omp parallel reduction(||: bad_group)
  {
    std::vector<char> excluded(static_cast<std::size_t>(items), 0);
#pragma omp for schedule(dynamic, 64)
    for (int64_t u = 0; u < rows; ++u) {
      int32_t* index = out_index + u * k;
      float* value = out_score + u * k;
      int n = 0;
      const int32_t g = terms.user_group[u];
      if (g < 0 || g >= groups) {
        bad_group = true;
      } else {
        const int64_t first = exclude.rows != 0 ? exclude.indptr[u] : 0;
        const int64_t last = exclude.rows != 0 ? exclude.indptr[u + 1] : 0;
        for (int64_t p = first; p < last; ++p) {
          const int32_t e = exclude.indices[p];
          if (e >= 0 && e < items) excluded[static_cast<std::size_t>(e)] = 1;
        }
        const float* score = terms.group_scores.row(g);
        for (const int32_t i : ranking[static_cast<std::size_t>(g)]) {
          if (excluded[static_cast<std::size_t>(i)]) continue;
          index[n] = i;
          value[n] = score[i];
          if (++n == k) break;
        }
        for (int64_t p = first; p < last; ++p) {
          const int32_t e = exclude.indices[p];
          if (e >= 0 && e < items) excluded[static_cast<std::size_t>(e)] = 0;
        }
      }
      for (; n < k; ++n) {
        index[n] = -1;
        value[n] = 0.0f;
      }
    }
  }
}

// One user's scores over the catalogue, dw * dot + gw * group (either term may be absent:
// null), excluded items NaN, pushed through `top`. score may be dot itself (scored in place).
// The AVX clones widen both the scoring and push_all's test of 16 scores against the floor;
// they may fuse dw * dot + gw * group into one rounding where the default path takes two.
COHORT_HOT_CLONES void score_row(float* score, const float* dot, const float* group, float dw, float gw,
                                 int64_t items, const int32_t* excluded_begin, const int32_t* excluded_end,
                                 TopKSelector& top) {
  if (dot != nullptr && group != nullptr) {
    for (int64_t i = 0; i < items; ++i) score[i] = dw * dot[i] + gw * group[i];
  } else if (dot != nullptr) {
    for (int64_t i = 0; i < items; ++i) score[i] = dw * dot[i];
  } else {
    for (int64_t i = 0; i < items; ++i) score[i] = gw * group[i];
  }
  // Excluded items become NaN, which the selector skips.
  for (const int32_t* e = excluded_begin; e != excluded_end; ++e)
    if (*e >= 0 && *e < items) score[*e] = std::numeric_limits<float>::quiet_NaN();
  top.push_all(score, items);
}

}  // namespace

void score_topk(const ScoreTerms& terms, int64_t rows, int64_t items, CsrView exclude, int k, int32_t* out_index,
                float* out_score) {
  const bool has_factors = terms.user_factors.data != nullptr;
  const bool has_dots = terms.dots.data != nullptr;  // precomputed: read, never written
  const bool has_dot = has_factors || has_dots;
  const bool has_group = terms.group_scores.data != nullptr;
  check_score_topk_args(terms, rows, items, exclude, k, out_index, out_score);
  if (rows == 0 || k == 0) return;
  bool bad_group = false;
  if (!has_dot && has_group && terms.group_weight == nullptr) {
    group_only_topk(terms, rows, items, exclude, k, out_index, out_score, bad_group);
    COHORT_CHECK(!bad_group, "score_topk: a user's group is outside [0, {})", terms.group_scores.rows);
    return;
  }

  const int64_t block = std::clamp(kScoreScratchFloats / std::max<int64_t>(items, 1), int64_t{1}, kScoreMaxBlock);
  std::vector<float> scratch(has_factors ? static_cast<std::size_t>(std::min(block, rows) * items) : 0);
  for (int64_t begin = 0; begin < rows; begin += block) {
    const int64_t end = std::min(rows, begin + block);
    MatrixView<float> dots(scratch.data(), end - begin, items);
    // The GEMM and then the top-k, each across the OpenMP threads (one pool: gemm.hpp).
    if (has_factors) gemm_nt(1.0f, terms.user_factors.rows_range(begin, end), terms.item_factors, 0.0f, dots);
#pragma omp parallel reduction(||: bad_group)
    {
      TopKSelector top(k);
      // A row of scores: in place over the row's dot products when this call computed them.
      std::vector<float> own(has_factors ? 0 : static_cast<std::size_t>(items));
#pragma omp for schedule(dynamic, 8)
      for (int64_t u = begin; u < end; ++u) {
        const float dw = terms.dot_weight != nullptr ? terms.dot_weight[u] : 1.0f;
        const float gw = terms.group_weight != nullptr ? terms.group_weight[u] : 1.0f;
        float* score = has_factors ? dots.row(u - begin) : own.data();
        const float* dot = has_factors ? score : has_dots ? terms.dots.row(u) : nullptr;
        const float* group = nullptr;
        if (has_group) {
          const int32_t g = terms.user_group[u];
          if (g < 0 || g >= terms.group_scores.rows) {
            bad_group = true;
            top.write(out_index + u * k, out_score + u * k);
            continue;
          }
          group = terms.group_scores.row(g);
        }
        const int32_t* ex = exclude.rows != 0 ? exclude.indices + exclude.indptr[u] : nullptr;
        const int32_t* ex_end = exclude.rows != 0 ? exclude.indices + exclude.indptr[u + 1] : nullptr;
        score_row(score, dot, group, dw, gw, items, ex, ex_end, top);
        top.write(out_index + u * k, out_score + u * k);
      }
    }
  }
  COHORT_CHECK(!bad_group, "score_topk: a user's group is outside [0, {})", terms.group_scores.rows);
}

void knn_score_topk(CsrView user_items, const int32_t* neighbour_index, const float* neighbour_score, int neighbours,
                    int64_t items, CsrView exclude, int k, int32_t* out_index, float* out_score) {
  check_knn_score_topk_args(user_items, neighbour_index, neighbour_score, neighbours, items, exclude, k, out_index,
                            out_score);
  const int64_t rows = user_items.rows;
  if (rows == 0 || k == 0) return;

  bool bad_index = false;
#pragma omp parallel reduction(||: bad_index)
  {
    // acc holds the running scores, seen marks which entries touched lists; both are reset
    // through touched only. excluded marks the row's excluded items while it is scored.
    std::vector<float> acc(static_cast<std::size_t>(items), 0.0f);
    std::vector<char> seen(static_cast<std::size_t>(items), 0);
    std::vector<char> excluded(static_cast<std::size_t>(items), 0);
    std::vector<int32_t> touched;
    TopKSelector top(k);
#pragma omp for schedule(dynamic, 16)
    for (int64_t u = 0; u < rows; ++u) {
      for (int64_t p = user_items.indptr[u]; p < user_items.indptr[u + 1]; ++p) {
        const int32_t j = user_items.indices[p];
        if (j < 0 || j >= items) {
          bad_index = true;
          continue;
        }
        const float v = user_items.values != nullptr ? user_items.values[p] : 1.0f;
        const int32_t* nb = neighbour_index + static_cast<int64_t>(j) * neighbours;
        const float* ns = neighbour_score + static_cast<int64_t>(j) * neighbours;
        for (int t = 0; t < neighbours; ++t) {
          const int32_t i = nb[t];
          if (i < 0) continue;
          if (i >= items) {
            bad_index = true;
            continue;
          }
          if (!seen[i]) {
            seen[i] = 1;
            touched.push_back(i);
          }
          acc[i] += v * ns[t];
        }
      }
      if (exclude.rows != 0) {
        for (int64_t p = exclude.indptr[u]; p < exclude.indptr[u + 1]; ++p) {
          const int32_t e = exclude.indices[p];
          if (e >= 0 && e < items) excluded[e] = 1;
        }
      }
      for (int32_t i : touched) {
        if (!excluded[i]) top.push(i, acc[i]);
        acc[i] = 0.0f;
        seen[i] = 0;
      }
      if (exclude.rows != 0) {
        for (int64_t p = exclude.indptr[u]; p < exclude.indptr[u + 1]; ++p) {
          const int32_t e = exclude.indices[p];
          if (e >= 0 && e < items) excluded[e] = 0;
        }
      }
      touched.clear();
      top.write(out_index + u * k, out_score + u * k);
    }
  }
  COHORT_CHECK_STATUS(!bad_index, Status::bad_input,
                      "knn_score_topk: an item index is out of range in user_items or the neighbour lists");
}

}  // namespace cohort::cpu
