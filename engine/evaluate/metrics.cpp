#include "engine/evaluate/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

#include "kernels/error.hpp"

namespace cohort {
namespace {

// Per-user metrics at one cutoff, in this order (names are "<metric>@<k>").
constexpr const char* kPerUserMetrics[] = {"precision", "recall", "f1", "ndcg", "map", "hit_rate", "mrr"};
constexpr size_t kPerUserCount = std::size(kPerUserMetrics);

bool in_row(const Csr& m, int64_t r, int32_t item) {
  const int32_t* begin = m.indices.data() + m.indptr[r];
  const int32_t* end = m.indices.data() + m.indptr[r + 1];
  return std::binary_search(begin, end, item);
}

void check_cutoffs(const std::vector<int>& cutoffs) {
  COHORT_CHECK(!cutoffs.empty(), "metrics: no cutoffs given");
  for (int k : cutoffs) COHORT_CHECK(k > 0, "metrics: cutoff {} must be positive", k);
}

// Compact label ids of the rows where both labelings are non-negative.
struct LabelPairs {
  std::vector<int32_t> a, b;
  int32_t a_count = 0, b_count = 0;
};

LabelPairs paired_labels(const std::vector<int32_t>& a, const std::vector<int32_t>& b, const char* who) {
  COHORT_CHECK(a.size() == b.size(), "{}: labelings have {} and {} entries", who, a.size(), b.size());
  LabelPairs p;
  std::unordered_map<int32_t, int32_t> a_ids, b_ids;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] < 0 || b[i] < 0) continue;
    p.a.push_back(a_ids.try_emplace(a[i], static_cast<int32_t>(a_ids.size())).first->second);
    p.b.push_back(b_ids.try_emplace(b[i], static_cast<int32_t>(b_ids.size())).first->second);
  }
  p.a_count = static_cast<int32_t>(a_ids.size());
  p.b_count = static_cast<int32_t>(b_ids.size());
  return p;
}

// The non-zero cells n_ij of the contingency table, and the marginals a_i and b_j.
struct Contingency {
  struct Cell {
    int32_t i, j;
    double count;
  };
  std::vector<Cell> cells;
  std::vector<double> a_sizes, b_sizes;
};

Contingency contingency(const LabelPairs& p) {
  Contingency t;
  t.a_sizes.assign(static_cast<size_t>(p.a_count), 0.0);
  t.b_sizes.assign(static_cast<size_t>(p.b_count), 0.0);
  std::vector<uint64_t> keys(p.a.size());
  for (size_t r = 0; r < p.a.size(); ++r) {
    keys[r] = static_cast<uint64_t>(p.a[r]) << 32 | static_cast<uint32_t>(p.b[r]);
    t.a_sizes[p.a[r]] += 1.0;
    t.b_sizes[p.b[r]] += 1.0;
  }
  std::sort(keys.begin(), keys.end());
  for (size_t r = 0; r < keys.size(); ++r) {
    if (r > 0 && keys[r] == keys[r - 1]) {
      t.cells.back().count += 1.0;
    } else {
      t.cells.push_back({static_cast<int32_t>(keys[r] >> 32), static_cast<int32_t>(keys[r] & 0xFFFFFFFFu), 1.0});
    }
  }
  return t;
}

double choose2(double x) { return x * (x - 1.0) / 2.0; }

}  // namespace

UserMetrics score_users(const TopK& recs, const Csr& test, const std::vector<int>& cutoffs) {
  check_cutoffs(cutoffs);
  COHORT_CHECK(recs.rows == test.rows, "score_users: {} recommendation rows for {} test rows", recs.rows, test.rows);
  COHORT_CHECK(recs.k >= 0 && recs.items.size() == static_cast<size_t>(recs.rows * recs.k),
               "score_users: top-k holds {} items for {} rows x k {}", recs.items.size(), recs.rows, recs.k);
  UserMetrics out;
  for (int k : cutoffs) {
    for (const char* name : kPerUserMetrics) out.names.push_back(fmt::format("{}@{}", name, k));
  }
  const size_t width = out.names.size();
  out.values.assign(static_cast<size_t>(recs.rows) * width, 0.0);
  out.has_test.assign(static_cast<size_t>(recs.rows), false);

  for (int64_t u = 0; u < recs.rows; ++u) {
    if (test.row_length(u) == 0) continue;
    out.has_test[u] = true;
    const int32_t* list = recs.row(u);
    for (int j = 0; j < recs.k; ++j) {
      COHORT_CHECK(list[j] >= -1 && list[j] < test.cols, "score_users: row {} recommends item {} of {}", u, list[j],
                   test.cols);
    }
  }
  // Users are independent (and checked above, so nothing below throws): one per thread.
#pragma omp parallel for schedule(dynamic, 256)
  for (int64_t u = 0; u < recs.rows; ++u) {
    const int64_t relevant = test.row_length(u);
    if (relevant == 0) continue;
    const int32_t* list = recs.row(u);
    thread_local std::vector<int32_t> seen;
    double* row_out = out.values.data() + static_cast<size_t>(u) * width;
    for (size_t c = 0; c < cutoffs.size(); ++c) {
      const int k = cutoffs[c];
      const int depth = std::min(k, recs.k);
      double hits = 0.0, dcg = 0.0, precision_sum = 0.0, first_hit_rank = 0.0;
      seen.clear();
      for (int j = 0; j < depth; ++j) {
        const int32_t item = list[j];
        if (item < 0 || !in_row(test, u, item)) continue;
        if (std::find(seen.begin(), seen.end(), item) != seen.end()) continue;  // a repeated item counts once
        seen.push_back(item);
        const double rank = j + 1;
        hits += 1.0;
        dcg += 1.0 / std::log2(rank + 1.0);
        precision_sum += hits / rank;
        if (first_hit_rank == 0.0) first_hit_rank = rank;
      }
      const int64_t ideal_hits = std::min<int64_t>(relevant, k);
      double idcg = 0.0;
      for (int64_t r = 1; r <= ideal_hits; ++r) idcg += 1.0 / std::log2(static_cast<double>(r) + 1.0);
      const double precision = hits / k;
      const double recall = hits / static_cast<double>(relevant);
      double* v = row_out + c * kPerUserCount;
      v[0] = precision;
      v[1] = recall;
      v[2] = precision + recall > 0.0 ? 2.0 * precision * recall / (precision + recall) : 0.0;
      v[3] = dcg / idcg;
      v[4] = precision_sum / static_cast<double>(ideal_hits);
      v[5] = hits > 0.0 ? 1.0 : 0.0;
      v[6] = first_hit_rank > 0.0 ? 1.0 / first_hit_rank : 0.0;
    }
  }
  return out;
}

RatingErrors rating_errors(const Matrix& user_factors, const Matrix& item_factors, const Csr& test, double baseline) {
  COHORT_CHECK(user_factors.rows == test.rows && item_factors.rows == test.cols && user_factors.cols == item_factors.cols,
               "rating_errors: {} x {} user factors and {} x {} item factors for a {} x {} test matrix",
               user_factors.rows, user_factors.cols, item_factors.rows, item_factors.cols, test.rows, test.cols);
  RatingErrors e;
  double squared = 0.0, absolute = 0.0, baseline_squared = 0.0;
  for (int64_t u = 0; u < test.rows; ++u) {
    const float* x = user_factors.row(u);
    for (int64_t p = test.indptr[u]; p < test.indptr[u + 1]; ++p) {
      const float* y = item_factors.row(test.indices[p]);
      double predicted = 0.0;
      for (int64_t j = 0; j < user_factors.cols; ++j) predicted += static_cast<double>(x[j]) * y[j];
      const double actual = test.values.empty() ? 1.0 : test.values[p];
      squared += (predicted - actual) * (predicted - actual);
      absolute += std::abs(predicted - actual);
      baseline_squared += (baseline - actual) * (baseline - actual);
      ++e.ratings;
    }
  }
  if (e.ratings > 0) {
    const double n = static_cast<double>(e.ratings);
    e.rmse = std::sqrt(squared / n);
    e.mae = absolute / n;
    e.baseline_rmse = std::sqrt(baseline_squared / n);
  }
  return e;
}

MetricSet summarize(const UserMetrics& per_user, const TopK& recs, int64_t items, const std::vector<int>& cutoffs) {
  std::vector<int32_t> all(per_user.has_test.size());
  std::iota(all.begin(), all.end(), 0);
  return summarize_rows(per_user, recs, items, all, cutoffs);
}

MetricSet summarize_rows(const UserMetrics& per_user, const TopK& recs, int64_t items,
                         const std::vector<int32_t>& subset, const std::vector<int>& cutoffs) {
  check_cutoffs(cutoffs);
  const size_t width = per_user.names.size();
  const auto rows = static_cast<int64_t>(per_user.has_test.size());
  COHORT_CHECK(per_user.values.size() == static_cast<size_t>(rows) * width,
               "summarize: {} values for {} rows x {} metrics", per_user.values.size(), rows, width);
  COHORT_CHECK(recs.rows == rows, "summarize: {} recommendation rows for {} scored rows", recs.rows, rows);
  COHORT_CHECK(items >= 0, "summarize: {} items", items);

  std::vector<int32_t> chosen;
  for (int32_t u : subset) {
    COHORT_CHECK(u >= 0 && u < rows, "summarize: subset row {} outside 0..{}", u, rows - 1);
    if (per_user.has_test[u]) chosen.push_back(u);
  }

  MetricSet out;
  for (size_t m = 0; m < width; ++m) {
    double sum = 0.0;
    for (int32_t u : chosen) sum += per_user.values[static_cast<size_t>(u) * width + m];
    out[per_user.names[m]] = chosen.empty() ? 0.0 : sum / static_cast<double>(chosen.size());
  }
  std::vector<char> covered(static_cast<size_t>(items), 0);
  for (int k : cutoffs) {
    std::fill(covered.begin(), covered.end(), 0);
    int64_t distinct = 0;
    const int depth = std::min(k, recs.k);
    for (int32_t u : chosen) {
      const int32_t* list = recs.row(u);
      for (int j = 0; j < depth; ++j) {
        const int32_t item = list[j];
        if (item < 0) continue;
        COHORT_CHECK(item < items, "summarize: row {} recommends item {} of {}", u, item, items);
        if (!covered[item]) {
          covered[item] = 1;
          ++distinct;
        }
      }
    }
    out[fmt::format("coverage@{}", k)] = items > 0 ? static_cast<double>(distinct) / static_cast<double>(items) : 0.0;
  }
  return out;
}

// Hubert & Arabie (1985): (Index - Expected) / (Max - Expected) over pairs of rows, with
// Index = sum_ij C(n_ij, 2), Expected = sum_i C(a_i, 2) sum_j C(b_j, 2) / C(n, 2),
// Max = (sum_i C(a_i, 2) + sum_j C(b_j, 2)) / 2.
double adjusted_rand_index(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  const LabelPairs p = paired_labels(a, b, "adjusted_rand_index");
  const auto n = static_cast<double>(p.a.size());
  const Contingency t = contingency(p);
  double index = 0.0;
  for (const auto& cell : t.cells) index += choose2(cell.count);
  double sum_a = 0.0, sum_b = 0.0;
  for (double s : t.a_sizes) sum_a += choose2(s);
  for (double s : t.b_sizes) sum_b += choose2(s);
  const double pairs = choose2(n);
  const double expected = pairs > 0.0 ? sum_a * sum_b / pairs : 0.0;
  const double max_index = 0.5 * (sum_a + sum_b);
  // The denominator vanishes only when both labelings are one cluster or both all singletons
  // (or there are fewer than two rows): the partitions are then identical.
  if (max_index - expected == 0.0) return 1.0;
  return (index - expected) / (max_index - expected);
}

// NMI = I(A; B) / ((H(A) + H(B)) / 2), natural logarithms (the base cancels).
double normalized_mutual_info(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  const LabelPairs p = paired_labels(a, b, "normalized_mutual_info");
  if (p.a_count <= 1 && p.b_count <= 1) return 1.0;  // both one cluster (or no rows): identical
  if (p.a_count <= 1 || p.b_count <= 1) return 0.0;   // one labeling carries no information
  const auto n = static_cast<double>(p.a.size());
  const Contingency t = contingency(p);
  auto entropy = [n](const std::vector<double>& sizes) {
    double h = 0.0;
    for (double s : sizes) {
      if (s > 0.0) h -= (s / n) * std::log(s / n);
    }
    return h;
  };
  // I = sum_ij (n_ij / n) log(n n_ij / (a_i b_j))
  double mi = 0.0;
  for (const auto& cell : t.cells) {
    mi += (cell.count / n) * std::log(n * cell.count / (t.a_sizes[cell.i] * t.b_sizes[cell.j]));
  }
  const double mean_entropy = 0.5 * (entropy(t.a_sizes) + entropy(t.b_sizes));
  return std::clamp(mi / mean_entropy, 0.0, 1.0);
}

}  // namespace cohort
