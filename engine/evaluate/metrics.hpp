// Ranking metrics at k (evaluation.md) and clustering agreement (ARI, NMI).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/data/csr.hpp"
#include "engine/recommend/recommend.hpp"

namespace cohort {

inline const std::vector<int> kMetricCutoffs = {10, 20};

// Metric name -> value, names as in metrics.json: "precision@10", "recall@10", "f1@10",
// "ndcg@10", "map@10", "hit_rate@10", "mrr@10", "coverage@10", and the same @20.
using MetricSet = std::map<std::string, double>;

// Per-user values of every per-user metric for each cutoff.
//   precision = hits/k; recall = hits/|test|; f1 = 2pr/(p+r) (0 when p+r = 0);
//   ndcg = DCG/IDCG with binary gains, log2(rank+1) discount, IDCG over min(|test|, k);
//   map = sum_{hits at rank r} precision@r / min(|test|, k); hit_rate = hits > 0;
//   mrr = 1 / rank of the first hit (0 if none).
struct UserMetrics {
  std::vector<std::string> names;  // column names
  std::vector<double> values;      // rows x names.size()
  std::vector<bool> has_test;      // rows: test set non-empty
};
// recs and test are row-aligned (test: rows x items).
UserMetrics score_users(const TopK& recs, const Csr& test, const std::vector<int>& cutoffs = kMetricCutoffs);

// Mean of each metric over the rows that have a test set, plus coverage@k: distinct items in
// those rows' top-k lists / items.
MetricSet summarize(const UserMetrics& per_user, const TopK& recs, int64_t items,
                    const std::vector<int>& cutoffs = kMetricCutoffs);
// The same over only the listed rows (those of them with a test set); no such row: all 0.
MetricSet summarize_rows(const UserMetrics& per_user, const TopK& recs, int64_t items,
                         const std::vector<int32_t>& rows, const std::vector<int>& cutoffs = kMetricCutoffs);
// Rating prediction (explicit MF): the error of user . item against each held-out value, and
// of one constant (the training ratings' mean) as the baseline a model must beat. Rows of
// user_factors and test are aligned; test's columns index item_factors' rows.
struct RatingErrors {
  int64_t ratings = 0;  // held-out values scored
  double rmse = 0.0;
  double mae = 0.0;
  double baseline_rmse = 0.0;  // of predicting `baseline` for every rating
};
RatingErrors rating_errors(const Matrix& user_factors, const Matrix& item_factors, const Csr& test, double baseline);

// Labels < 0 are ignored (pairs where either is negative are dropped). As in scikit-learn,
// identical trivial labelings (both one cluster, or no labelled rows) score 1; for NMI, one
// single-cluster labeling against a split one scores 0.
double adjusted_rand_index(const std::vector<int32_t>& a, const std::vector<int32_t>& b);
// Arithmetic-mean normalisation (as scikit-learn's default).
double normalized_mutual_info(const std::vector<int32_t>& a, const std::vector<int32_t>& b);

}  // namespace cohort
