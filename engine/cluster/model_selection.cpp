#include "engine/cluster/model_selection.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <random>

#include <fmt/format.h>

#include "engine/comm/gather.hpp"
#include "engine/comm/shard_plan.hpp"
#include "engine/data/rows.hpp"
#include "engine/parallel_for.hpp"
#include "kernels/buffer.hpp"
#include "kernels/error.hpp"
#include "kernels/registry.hpp"

namespace cohort {
namespace {

// Pairwise-distance blocks are kept to about this many floats (32 MiB).
constexpr int64_t kBlockElements = int64_t{1} << 23;
constexpr uint64_t kSampleSalt = 0x5a6d706c65ULL;

uint64_t splitmix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void check_rows(const Matrix& x, const char* where) {
  COHORT_CHECK(static_cast<int64_t>(x.data.size()) == x.rows * x.cols && x.cols >= 1,
               "{}: x is {} x {} with {} values", where, x.rows, x.cols, x.data.size());
}

void check_labels(const std::vector<int32_t>& labels, int64_t rows, int k, const char* where) {
  COHORT_CHECK(static_cast<int64_t>(labels.size()) == rows, "{}: {} labels for {} rows", where, labels.size(), rows);
  for (size_t i = 0; i < labels.size(); ++i)
    COHORT_CHECK(labels[i] >= 0 && labels[i] < k, "{}: label {} of row {} is outside [0, {})", where, labels[i], i, k);
}

// A seeded sample of min(size, n) distinct rows, ascending (partial Fisher-Yates).
std::vector<int64_t> sample_rows(int64_t n, int64_t size, uint64_t seed) {
  std::vector<int64_t> rows(static_cast<size_t>(n));
  std::iota(rows.begin(), rows.end(), 0);
  if (size >= n) return rows;
  std::mt19937_64 rng(seed);
  for (int64_t i = 0; i < size; ++i) {
    std::uniform_int_distribution<int64_t> pick(i, n - 1);
    std::swap(rows[static_cast<size_t>(i)], rows[static_cast<size_t>(pick(rng))]);
  }
  rows.resize(static_cast<size_t>(size));
  std::sort(rows.begin(), rows.end());
  return rows;
}

// Mean silhouette of each labeling over the sampled rows, Euclidean (Rousseeuw 1987):
//   s(i) = (b(i) - a(i)) / max(a(i), b(i)), a = mean distance to the other members of i's
//   cluster, b = the smallest mean distance to another cluster's members, all within the sample.
// The sample's distances are computed once, block by block, as sqrt(|u|^2 + |v|^2 - 2 u.v)
// (a GEMM), and each block is multiplied by the cluster indicators of every labeling at once
// (a second GEMM), which gives each row's distance sum to every cluster of every labeling.
// SPMD: each rank scores its block of the sampled rows; the rows' scores are gathered and
// summed in row order on every rank, as one rank sums them.
std::vector<double> silhouettes(const Context& ctx, const Matrix& x, const std::vector<int64_t>& sample,
                                const std::vector<const std::vector<int32_t>*>& labelings, const std::vector<int>& ks) {
  const int64_t s = static_cast<int64_t>(sample.size());
  const int64_t d = x.cols;
  const int num_labelings = static_cast<int>(labelings.size());
  std::vector<double> result(static_cast<size_t>(num_labelings), 0.0);
  if (s < 2 || num_labelings == 0) return result;

  // The sample, centred: distances are unchanged and the GEMM form loses less to cancellation.
  std::vector<double> mean(static_cast<size_t>(d), 0.0);
  for (int64_t i : sample)
    for (int64_t j = 0; j < d; ++j) mean[j] += x.row(i)[j];
  for (double& m : mean) m /= static_cast<double>(s);
  std::vector<float> points(static_cast<size_t>(s * d));
  std::vector<float> sq(static_cast<size_t>(s));
  for (int64_t r = 0; r < s; ++r) {
    double norm = 0.0;
    for (int64_t j = 0; j < d; ++j) {
      const float v = static_cast<float>(x.row(sample[r])[j] - mean[j]);
      points[r * d + j] = v;
      norm += static_cast<double>(v) * v;
    }
    sq[r] = static_cast<float>(norm);
  }

  // Indicator rows: column offset[l] + c of labeling l is 1 for the sampled rows in cluster c.
  std::vector<int64_t> offset(static_cast<size_t>(num_labelings) + 1, 0);
  for (int l = 0; l < num_labelings; ++l) offset[l + 1] = offset[l] + ks[l];
  const int64_t total_clusters = offset.back();
  std::vector<float> indicators(static_cast<size_t>(total_clusters * s), 0.0f);
  std::vector<int32_t> label(static_cast<size_t>(num_labelings * s));
  std::vector<int64_t> size(static_cast<size_t>(total_clusters), 0);
  for (int l = 0; l < num_labelings; ++l)
    for (int64_t r = 0; r < s; ++r) {
      const int32_t c = (*labelings[l])[static_cast<size_t>(sample[r])];
      label[l * s + r] = c;
      ++size[offset[l] + c];
      indicators[(offset[l] + c) * s + r] = 1.0f;
    }

  Backend& backend = ctx.backend;
  Buffer<float> points_buffer(backend, points);
  Buffer<float> sq_buffer(backend, sq);
  Buffer<float> indicator_buffer(backend, indicators);
  const MatrixView<const float> all = points_buffer.matrix(s, d);
  const MatrixView<const float> indicator_view = indicator_buffer.matrix(total_clusters, s);
  const RowBlock mine = even_row_blocks(s, ctx.comm.size())[static_cast<size_t>(ctx.comm.rank())];
  const int64_t block = std::clamp<int64_t>(kBlockElements / s, 1, s);
  std::vector<double> row_score(static_cast<size_t>(mine.rows() * num_labelings));
  // The distance blocks stay on the backend; only the per-cluster sums come back.
  Buffer<float> distance(backend, block * s);
  Buffer<float> sums(backend, block * total_clusters);

  for (int64_t begin = mine.begin; begin < mine.end; begin += block) {
    const int64_t rows = std::min(block, mine.end - begin);
    const MatrixView<float> distance_view = distance.matrix(rows, s);
    backend.gemm_nt(-2.0f, all.rows_range(begin, begin + rows), all, 0.0f, distance_view);
    backend.distances_from_dots(distance_view, sq_buffer.data() + begin, sq_buffer.data(), begin);
    backend.gemm_nt(1.0f, distance_view, indicator_view, 0.0f, sums.matrix(rows, total_clusters));
    std::vector<float> host_sums(static_cast<size_t>(rows * total_clusters));
    backend.copy_to_host(host_sums.data(), sums.data(), host_sums.size() * sizeof(float));
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const float* to_cluster = host_sums.data() + r * total_clusters;
      for (int l = 0; l < num_labelings; ++l) {
        const int32_t own = label[l * s + begin + r];
        const int64_t own_size = size[offset[l] + own];
        double score = 0.0;
        if (own_size > 1) {
          const double a = to_cluster[offset[l] + own] / static_cast<double>(own_size - 1);
          double b = std::numeric_limits<double>::infinity();
          for (int c = 0; c < ks[l]; ++c) {
            const int64_t members = size[offset[l] + c];
            if (c != own && members > 0) b = std::min(b, to_cluster[offset[l] + c] / static_cast<double>(members));
          }
          const double denominator = std::max(a, b);
          if (std::isfinite(b) && denominator > 0.0) score = (b - a) / denominator;
        }
        row_score[(begin - mine.begin + r) * num_labelings + l] = score;
      }
    }
  }
  const std::vector<double> all_scores = allgather_rows(ctx.comm, row_score);
  for (int64_t r = 0; r < s; ++r)
    for (int l = 0; l < num_labelings; ++l) result[l] += all_scores[r * num_labelings + l];

  for (int l = 0; l < num_labelings; ++l) {
    int non_empty = 0;
    for (int c = 0; c < ks[l]; ++c) non_empty += size[offset[l] + c] > 0;
    result[l] = non_empty < 2 ? 0.0 : result[l] / static_cast<double>(s);
  }
  return result;
}

// The mean of each cluster's rows; empty clusters get zeros.
Matrix cluster_means(const Matrix& x, const std::vector<int32_t>& labels, int k) {
  std::vector<double> sums(static_cast<size_t>(k * x.cols), 0.0);
  std::vector<int64_t> counts(static_cast<size_t>(k), 0);
  for (int64_t i = 0; i < x.rows; ++i) {
    const int32_t c = labels[static_cast<size_t>(i)];
    ++counts[c];
    for (int64_t j = 0; j < x.cols; ++j) sums[c * x.cols + j] += x.row(i)[j];
  }
  Matrix means(k, x.cols);
  for (int c = 0; c < k; ++c)
    if (counts[c] > 0)
      for (int64_t j = 0; j < x.cols; ++j)
        means.row(c)[j] = static_cast<float>(sums[c * x.cols + j] / static_cast<double>(counts[c]));
  return means;
}

void validate(const Matrix& x, const SweepConfig& config) {
  check_rows(x, "sweep_k");
  COHORT_CHECK(config.fixed_k >= 0, "sweep_k: fixed_k = {}; it must be > 0, or 0 for a sweep", config.fixed_k);
  if (config.fixed_k > 0) {
    COHORT_CHECK(config.fixed_k <= x.rows, "sweep_k: fixed_k = {} exceeds the {} rows to cluster", config.fixed_k,
                 x.rows);
  } else {
    COHORT_CHECK(config.k_min >= 2, "sweep_k: k_min = {}; a sweep needs k_min >= 2", config.k_min);
    COHORT_CHECK(config.k_max >= config.k_min, "sweep_k: k_max = {} is below k_min = {}", config.k_max,
                 config.k_min);
    COHORT_CHECK(config.k_max <= x.rows, "sweep_k: k_max = {} exceeds the {} rows to cluster", config.k_max, x.rows);
  }
  COHORT_CHECK(config.restarts >= 1, "sweep_k: restarts = {}; it must be >= 1", config.restarts);
  COHORT_CHECK(config.max_iterations >= 1, "sweep_k: max_iterations = {}; it must be >= 1", config.max_iterations);
  COHORT_CHECK(config.silhouette_sample >= 2, "sweep_k: silhouette_sample = {}; it must be >= 2",
               config.silhouette_sample);
}

}  // namespace

double silhouette_score(const Matrix& x, const std::vector<int32_t>& labels, int k, int sample_size, uint64_t seed) {
  check_rows(x, "silhouette_score");
  COHORT_CHECK(k >= 1, "silhouette_score: k = {}; it must be >= 1", k);
  COHORT_CHECK(sample_size >= 1, "silhouette_score: sample_size = {}; it must be >= 1", sample_size);
  check_labels(labels, x.rows, k, "silhouette_score");
  if (k == 1) return 0.0;
  std::unique_ptr<Backend> backend = make_backend("cpu");
  std::unique_ptr<Communicator> self = make_self_communicator();
  const Context ctx{*backend, *self, seed, 0, {}};
  return silhouettes(ctx, x, sample_rows(x.rows, sample_size, seed), {&labels}, {k})[0];
}

// Davies & Bouldin 1979, as scikit-learn computes it: s_i = mean distance of cluster i's rows
// to its centroid, DB = mean over clusters of max_{j != i} (s_i + s_j) / |c_i - c_j|.
// Clusters without rows are left out; coincident centroids contribute 0 (an infinite distance).
double davies_bouldin_score(const Matrix& x, const std::vector<int32_t>& labels, const Matrix& centroids) {
  check_rows(x, "davies_bouldin_score");
  COHORT_CHECK(centroids.cols == x.cols && centroids.rows >= 1 &&
                   static_cast<int64_t>(centroids.data.size()) == centroids.rows * centroids.cols,
               "davies_bouldin_score: centroids are {} x {}, rows have {} columns", centroids.rows, centroids.cols,
               x.cols);
  const int k = static_cast<int>(centroids.rows);
  check_labels(labels, x.rows, k, "davies_bouldin_score");

  std::vector<double> spread(static_cast<size_t>(k), 0.0);
  std::vector<int64_t> members(static_cast<size_t>(k), 0);
  for (int64_t i = 0; i < x.rows; ++i) {
    const int32_t c = labels[static_cast<size_t>(i)];
    double dist = 0.0;
    for (int64_t j = 0; j < x.cols; ++j) {
      const double diff = static_cast<double>(x.row(i)[j]) - centroids.row(c)[j];
      dist += diff * diff;
    }
    spread[c] += std::sqrt(dist);
    ++members[c];
  }
  std::vector<int> used;
  for (int c = 0; c < k; ++c)
    if (members[c] > 0) {
      spread[c] /= static_cast<double>(members[c]);
      used.push_back(c);
    }
  if (used.size() < 2) return 0.0;

  const size_t m = used.size();
  std::vector<double> between(m * m, 0.0);
  bool all_spread_zero = true;
  bool all_between_zero = true;
  for (size_t a = 0; a < m; ++a) {
    all_spread_zero = all_spread_zero && spread[used[a]] <= 1e-8;
    for (size_t b = 0; b < m; ++b) {
      double dist = 0.0;
      for (int64_t j = 0; j < x.cols; ++j) {
        const double diff = static_cast<double>(centroids.row(used[a])[j]) - centroids.row(used[b])[j];
        dist += diff * diff;
      }
      between[a * m + b] = std::sqrt(dist);
      if (a != b) all_between_zero = all_between_zero && between[a * m + b] <= 1e-8;
    }
  }
  if (all_spread_zero || all_between_zero) return 0.0;

  double total = 0.0;
  for (size_t a = 0; a < m; ++a) {
    double worst = 0.0;
    for (size_t b = 0; b < m; ++b)
      if (a != b && between[a * m + b] > 0.0)
        worst = std::max(worst, (spread[used[a]] + spread[used[b]]) / between[a * m + b]);
    total += worst;
  }
  return total / static_cast<double>(m);
}

SweepResult sweep_k(const Context& ctx, const Matrix& x, const SweepConfig& config) {
  validate(x, config);
  std::vector<int> ks;
  if (config.fixed_k > 0) {
    ks.push_back(config.fixed_k);
  } else {
    for (int k = config.k_min; k <= config.k_max; ++k) ks.push_back(k);
  }

  // Every (k, restart) in one batch. The seed depends only on (ctx.seed, restart), so the
  // problems of one restart share a k-means++ chain (batched_kmeans) and seeding costs one
  // chain of k_max centres per restart rather than one seeding per k.
  KMeansConfig kmeans;
  kmeans.max_iterations = config.max_iterations;
  kmeans.metric = config.metric;
  const uint64_t base = splitmix64(ctx.seed);
  for (int k : ks)
    for (int r = 0; r < config.restarts; ++r)
      kmeans.problems.push_back({k, splitmix64(base ^ static_cast<uint64_t>(r))});
  std::vector<KMeansSolution> solutions = batched_kmeans(ctx, x, kmeans);

  // Per k the restart with the lowest inertia (ties: the earlier restart).
  std::vector<size_t> best(ks.size());
  std::vector<const std::vector<int32_t>*> labelings;
  for (size_t i = 0; i < ks.size(); ++i) {
    best[i] = i * static_cast<size_t>(config.restarts);
    for (int r = 1; r < config.restarts; ++r) {
      const size_t candidate = i * static_cast<size_t>(config.restarts) + static_cast<size_t>(r);
      if (solutions[candidate].inertia < solutions[best[i]].inertia) best[i] = candidate;
    }
    labelings.push_back(&solutions[best[i]].labels);
  }

  // Scores live in the clustered space: the unit rows for cosine.
  const Matrix normalized = config.metric == KMeansMetric::cosine ? normalized_rows(x) : Matrix{};
  const Matrix& points = config.metric == KMeansMetric::cosine ? normalized : x;
  const std::vector<int64_t> sample =
      sample_rows(points.rows, config.silhouette_sample, splitmix64(ctx.seed ^ kSampleSalt));
  const std::vector<double> silhouette = silhouettes(ctx, points, sample, labelings, ks);

  // Davies-Bouldin on the host, one k per thread: a pass over every row per k, which the
  // GPU's run otherwise waits for (about 40 ms single-threaded for the default sweep).
  std::vector<double> davies_bouldin(ks.size(), 0.0);
  parallel_for(static_cast<int64_t>(ks.size()), [&](int64_t i) {
    const auto at = static_cast<size_t>(i);
    const std::vector<int32_t>& labels = solutions[best[at]].labels;
    davies_bouldin[at] = davies_bouldin_score(points, labels, cluster_means(points, labels, ks[at]));
  });

  SweepResult result;
  size_t chosen = 0;
  for (size_t i = 0; i < ks.size(); ++i) {
    const KMeansSolution& s = solutions[best[i]];
    KScore score;
    score.k = ks[i];
    score.silhouette = ks[i] == 1 ? 0.0 : silhouette[i];
    score.davies_bouldin = davies_bouldin[i];
    score.inertia = s.inertia;
    result.k_scores.push_back(score);
    ctx.report("sweep", static_cast<int64_t>(i + 1), static_cast<int64_t>(ks.size()),
               fmt::format("k = {}: silhouette {:.4f}, Davies-Bouldin {:.4f}", score.k, score.silhouette,
                           score.davies_bouldin));
    if (score.silhouette > result.k_scores[chosen].silhouette) chosen = i;
  }
  result.silhouette = result.k_scores[chosen].silhouette;
  result.davies_bouldin = result.k_scores[chosen].davies_bouldin;
  result.best = std::move(solutions[best[chosen]]);
  return result;
}

}  // namespace cohort
