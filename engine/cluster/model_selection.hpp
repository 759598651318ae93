// Choosing k: a sweep of k with restarts, scored by silhouette on a seeded sample,
// Davies-Bouldin and inertia.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/cluster/kmeans.hpp"

namespace cohort {

struct KScore {
  int k = 0;
  double silhouette = 0.0;
  double davies_bouldin = 0.0;
  double inertia = 0.0;
};

struct SweepConfig {
  int k_min = 2;
  int k_max = 32;
  int fixed_k = 0;           // > 0: only this k
  int restarts = 3;
  int max_iterations = 50;
  int silhouette_sample = 10000;
  KMeansMetric metric = KMeansMetric::cosine;
};

struct SweepResult {
  KMeansSolution best;           // the chosen k's best restart (lowest inertia)
  std::vector<KScore> k_scores;  // one per k, ascending
  double silhouette = 0.0;       // of the chosen solution
  double davies_bouldin = 0.0;
};

// Silhouette of labels over a seeded sample of at most sample_size rows (Euclidean). A row
// alone in its cluster (within the sample) scores 0; k == 1 or a single used cluster gives 0.
double silhouette_score(const Matrix& x, const std::vector<int32_t>& labels, int k, int sample_size, uint64_t seed);
// Davies-Bouldin with the given centroids (centroids.rows = k); clusters without rows are
// left out. Pass the clusters' means to get scikit-learn's value, as sweep_k does.
double davies_bouldin_score(const Matrix& x, const std::vector<int32_t>& labels, const Matrix& centroids);

// x: rows to cluster (normalised user embeddings). Picks the k with the highest silhouette
// (ties: the smaller k). Every (k, restart) runs in one batched_kmeans call; the scores are
// computed in the clustered space (the normalised rows for cosine) on one sample for all k.
// Throws Error(invalid_argument) for k_min < 2 (without fixed_k), k_max < k_min, k beyond
// the rows, restarts < 1 or silhouette_sample < 2.
SweepResult sweep_k(const Context& ctx, const Matrix& x, const SweepConfig& config);

}  // namespace cohort
