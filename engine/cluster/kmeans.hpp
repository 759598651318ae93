// Batched k-means: many problems (k values x restarts) over the same rows in one pass.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/context.hpp"
#include "engine/data/csr.hpp"

namespace cohort {

enum class KMeansMetric { euclidean, cosine };  // cosine: spherical k-means on unit rows

struct KMeansProblem {
  int k = 2;
  uint64_t seed = 0;
};

struct KMeansConfig {
  std::vector<KMeansProblem> problems;
  int max_iterations = 50;
  double tolerance = 1e-4;  // stop a problem when its relative inertia change is below this
  KMeansMetric metric = KMeansMetric::euclidean;
};

struct KMeansSolution {
  int k = 0;
  uint64_t seed = 0;
  Matrix centroids;              // k x d
  std::vector<int32_t> labels;   // n
  std::vector<float> distance;   // n: squared distance to the nearest centroid
  std::vector<float> margin;     // n: second-nearest minus nearest squared distance
  double inertia = 0.0;          // sum of squared distances to the nearest centroid
  int iterations = 0;
  int empty_repaired = 0;        // empty clusters re-seeded with the farthest rows
};

// x: n x d. All problems advance together: one kmeans_assign per iteration against every
// problem's centroids. Seeding by k-means++: problems that share a seed share one chain,
// seeded for the largest k among them (its greedy step tries 2 + log(k_max) candidates), and
// each takes the chain's first k centres; a problem alone with its seed gets exactly the
// k-means++ of its own k. Problems that converged keep their state. Deterministic for the
// problems' (k, seed) set on a backend. cosine: x's rows are normalised
// (on a copy) and centroids re-normalised after each update; distances are then Euclidean
// between unit vectors. Requires 1 <= k <= n for every problem. An empty cluster is re-seeded
// with the row farthest from its centroid in that problem; when every row already sits on a
// centroid (k exceeds the distinct rows) there is nothing to re-seed it with, so it stays
// empty, its centroid a copy of another's, and no label names it. SPMD: x is the same on every
// rank; each iterates over its block of rows, reducing sums, counts and inertia, and every
// rank returns the whole solution (equal to one rank's up to the order of those sums).
std::vector<KMeansSolution> batched_kmeans(const Context& ctx, const Matrix& x, const KMeansConfig& config);

}  // namespace cohort
