#include "engine/cluster/kmeans.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include <fmt/format.h>

#include "engine/comm/agree.hpp"
#include "engine/comm/shard_plan.hpp"
#include "kernels/buffer.hpp"
#include "kernels/error.hpp"

namespace cohort {
namespace {

void validate(const Matrix& x, const KMeansConfig& config) {
  COHORT_CHECK(x.rows >= 1 && x.cols >= 1, "batched_kmeans: x is {} x {}; it needs at least one row and column",
               x.rows, x.cols);
  COHORT_CHECK(static_cast<int64_t>(x.data.size()) == x.rows * x.cols,
               "batched_kmeans: x holds {} values for {} x {}", x.data.size(), x.rows, x.cols);
  COHORT_CHECK(!config.problems.empty(), "batched_kmeans: no problems given");
  COHORT_CHECK(config.max_iterations >= 1, "batched_kmeans: max_iterations = {}; it must be >= 1",
               config.max_iterations);
  COHORT_CHECK(std::isfinite(config.tolerance) && config.tolerance >= 0.0,
               "batched_kmeans: tolerance = {}; it must be finite and >= 0", config.tolerance);
  for (size_t b = 0; b < config.problems.size(); ++b) {
    const int k = config.problems[b].k;
    COHORT_CHECK(k >= 1 && k <= x.rows, "batched_kmeans: problem {} has k = {}; k must be in [1, {}] (the rows of x)",
                 b, k, x.rows);
  }
  for (size_t i = 0; i < x.data.size(); ++i)
    COHORT_CHECK_STATUS(std::isfinite(x.data[i]), Status::bad_input,
                        "batched_kmeans: x({}, {}) = {} is not finite", static_cast<int64_t>(i) / x.cols,
                        static_cast<int64_t>(i) % x.cols, x.data[i]);
}

// Rows [first, first + count) of a d-column matrix held in `buffer`.
MatrixView<float> centroid_rows(const Buffer<float>& buffer, int64_t first, int64_t count, int64_t d) {
  return {buffer.data() + first * d, count, d, d};
}

// inertia[a] = sum of best[a * n + i] over this rank's n rows, and over every rank's when
// `over_ranks`.
std::vector<double> inertia_per_problem(const Context& ctx, const Buffer<float>& best, int64_t n, int problems,
                                        bool over_ranks) {
  std::vector<double> local(static_cast<size_t>(problems), 0.0);
  if (n > 0) ctx.backend.sum_per_problem(best.data(), n, problems, local.data());
  if (!over_ranks || ctx.comm.size() == 1) return local;
  Buffer<double> total(ctx.backend, local);
  ctx.comm.allreduce_sum(ctx.backend, total.data(), total.size());
  return total.to_host();
}

// Re-seeds the empty clusters `empty` (local indices) of the packed problem `a` with the rows
// farthest from their centroids in the last assignment. Every rank offers its own farthest
// rows; all ranks then pick the same winners from the gathered candidates. Returns how many
// clusters were re-seeded (fewer than asked when too few rows lie off their centroids).
int repair_empty(const Context& ctx, MatrixView<const float> x, const Buffer<float>& best, int a,
                 const std::vector<int>& empty, MatrixView<float> problem_centroids) {
  Backend& backend = ctx.backend;
  const int64_t n = x.rows;
  const int64_t d = x.cols;
  const int64_t want = static_cast<int64_t>(empty.size());
  const int ranks = ctx.comm.size();
  const int rank = ctx.comm.rank();

  Buffer<float> slice(backend, n);
  if (n > 0) backend.copy_within(slice.data(), best.data() + a * n, static_cast<std::size_t>(n) * sizeof(float));
  const std::vector<float> dist = slice.to_host();
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  const int64_t local_count = std::min(want, n);
  std::partial_sort(order.begin(), order.begin() + local_count, order.end(), [&](int64_t i, int64_t j) {
    return dist[i] != dist[j] ? dist[i] > dist[j] : i < j;
  });

  // Slot (r, c) holds rank r's c-th farthest row and its distance; unused slots stay zero.
  std::vector<double> cand_dist(static_cast<size_t>(ranks * want), 0.0);
  Buffer<float> cand_rows(backend, ranks * want * d);
  cand_rows.zero();
  for (int64_t c = 0; c < local_count; ++c) {
    const int64_t row = order[static_cast<size_t>(c)];
    const int64_t slot = rank * want + c;
    cand_dist[static_cast<size_t>(slot)] = dist[static_cast<size_t>(row)];
    backend.copy_within(cand_rows.data() + slot * d, x.row(row), static_cast<std::size_t>(d) * sizeof(float));
  }
  Buffer<double> cand_dist_buffer(backend, cand_dist);
  ctx.comm.allreduce_sum(backend, cand_dist_buffer.data(), cand_dist_buffer.size());
  ctx.comm.allreduce_sum(backend, cand_rows.data(), cand_rows.size());
  cand_dist = cand_dist_buffer.to_host();

  std::vector<int64_t> slots(cand_dist.size());
  std::iota(slots.begin(), slots.end(), 0);
  std::stable_sort(slots.begin(), slots.end(), [&](int64_t i, int64_t j) { return cand_dist[i] > cand_dist[j]; });
  int repaired = 0;
  for (int64_t e = 0; e < want; ++e) {
    const int64_t slot = slots[static_cast<size_t>(e)];
    // A row sitting on its centroid would only duplicate that centroid.
    if (!(cand_dist[static_cast<size_t>(slot)] > 0.0)) break;
    backend.copy_within(problem_centroids.row(empty[static_cast<size_t>(e)]), cand_rows.data() + slot * d,
                        static_cast<std::size_t>(d) * sizeof(float));
    ++repaired;
  }
  return repaired;
}

}  // namespace

std::vector<KMeansSolution> batched_kmeans(const Context& ctx, const Matrix& x, const KMeansConfig& config) {
  validate(x, config);
  check_ranks_agree(ctx, "batched_kmeans: the rows to cluster", fingerprint(x));
  Backend& backend = ctx.backend;
  const int64_t n = x.rows;
  const int64_t d = x.cols;
  const int num_problems = static_cast<int>(config.problems.size());
  const bool cosine = config.metric == KMeansMetric::cosine;

  // The rows live on the backend for the whole run; cosine works on a normalised copy.
  Buffer<float> x_buffer(backend, x.data);
  const MatrixView<float> xv = x_buffer.matrix(n, d);
  if (cosine) backend.normalize_rows(xv);
  Buffer<float> x_sq(backend, n);
  backend.row_sq_norms(xv, x_sq.data());
  // SPMD: every rank holds all rows; the Lloyd iterations assign and sum this rank's block,
  // and the sums, counts and inertia are reduced over the ranks.
  const RowBlock mine = even_row_blocks(n, ctx.comm.size())[static_cast<size_t>(ctx.comm.rank())];
  const int64_t n_mine = mine.rows();
  const MatrixView<const float> x_mine{xv.data + mine.begin * d, n_mine, d, d};
  const float* x_sq_mine = x_sq.data() + mine.begin;

  std::vector<int64_t> offsets(static_cast<size_t>(num_problems) + 1, 0);
  for (int b = 0; b < num_problems; ++b) offsets[b + 1] = offsets[b] + config.problems[b].k;
  const int64_t total_k = offsets.back();

  // Seeding runs on all rows on every rank, so every rank draws the same centres as one rank.
  // Problems that share a seed share one k-means++ chain. D^2 sampling is sequential, so the
  // first k centres of a chain seeded for the largest k are a k-means++ seeding for k: a sweep
  // of k = 2..32 x 3 restarts seeds 3 chains of 32 centres instead of 93 problems' 1,581.
  Buffer<float> centroids(backend, total_k * d);
  std::map<uint64_t, int> chain_k;
  for (const KMeansProblem& p : config.problems) chain_k[p.seed] = std::max(chain_k[p.seed], p.k);
  for (const auto& [seed, k_chain] : chain_k) {
    Buffer<float> chain(backend, k_chain * d);
    backend.kmeans_plus_plus(xv, x_sq.data(), k_chain, seed, chain.matrix(k_chain, d));
    for (int b = 0; b < num_problems; ++b)
      if (config.problems[b].seed == seed)
        backend.copy_within(centroids.data() + offsets[b] * d, chain.data(),
                            static_cast<std::size_t>(config.problems[b].k * d) * sizeof(float));
  }

  Buffer<int32_t> labels(backend, num_problems * n_mine);
  Buffer<float> best(backend, num_problems * n_mine);
  Buffer<float> packed(backend, total_k * d);
  Buffer<double> sums(backend, total_k * d);
  Buffer<double> counts(backend, total_k);

  std::vector<double> previous(static_cast<size_t>(num_problems), std::numeric_limits<double>::infinity());
  std::vector<int> iterations(static_cast<size_t>(num_problems), 0);
  std::vector<int> repaired(static_cast<size_t>(num_problems), 0);
  std::vector<char> active(static_cast<size_t>(num_problems), 1);

  for (int iteration = 1; iteration <= config.max_iterations; ++iteration) {
    std::vector<int> live;
    for (int b = 0; b < num_problems; ++b)
      if (active[b]) live.push_back(b);
    if (live.empty()) break;
    const int num_live = static_cast<int>(live.size());
    ctx.report("kmeans", iteration, config.max_iterations, fmt::format("{} problems active", num_live));

    // Converged problems drop out of the GEMM: the live problems' centroids are packed
    // into one contiguous matrix with their own offsets.
    const bool pack = num_live < num_problems;
    const Buffer<float>& work = pack ? packed : centroids;
    std::vector<int64_t> live_offsets(static_cast<size_t>(num_live) + 1, 0);
    for (int a = 0; a < num_live; ++a) {
      const int b = live[a];
      live_offsets[a + 1] = live_offsets[a] + config.problems[b].k;
      if (pack)
        backend.copy_within(packed.data() + live_offsets[a] * d, centroids.data() + offsets[b] * d,
                            static_cast<std::size_t>(config.problems[b].k * d) * sizeof(float));
    }
    const int64_t live_k = live_offsets.back();
    const MatrixView<float> work_view = centroid_rows(work, 0, live_k, d);

    if (n_mine > 0)
      backend.kmeans_assign(x_mine, x_sq_mine, work_view, live_offsets.data(), num_live, labels.data(), best.data(),
                            nullptr);
    const std::vector<double> inertia = inertia_per_problem(ctx, best, n_mine, num_live, true);

    // Lloyd update: centroid = mean of its rows over all ranks.
    backend.fill_zero(sums.data(), static_cast<std::size_t>(live_k * d) * sizeof(double));
    backend.fill_zero(counts.data(), static_cast<std::size_t>(live_k) * sizeof(double));
    if (n_mine > 0)
      backend.kmeans_accumulate(x_mine, labels.data(), live_offsets.data(), num_live, sums.data(), counts.data());
    ctx.comm.allreduce_sum(backend, sums.data(), live_k * d);
    ctx.comm.allreduce_sum(backend, counts.data(), live_k);
    backend.kmeans_finalize(sums.data(), counts.data(), work_view);

    const std::vector<double> host_counts = counts.to_host();
    std::vector<char> repaired_now(static_cast<size_t>(num_live), 0);
    for (int a = 0; a < num_live; ++a) {
      std::vector<int> empty;
      for (int64_t c = 0; c < config.problems[live[a]].k; ++c)
        if (host_counts[static_cast<size_t>(live_offsets[a] + c)] == 0.0) empty.push_back(static_cast<int>(c));
      if (empty.empty()) continue;
      const int fixed = repair_empty(ctx, x_mine, best, a, empty,
                                     centroid_rows(work, live_offsets[a], config.problems[live[a]].k, d));
      repaired[live[a]] += fixed;
      repaired_now[a] = fixed > 0;
    }
    // Spherical k-means: centroids back onto the unit sphere.
    if (cosine) backend.normalize_rows(work_view);

    for (int a = 0; a < num_live; ++a) {
      const int b = live[a];
      if (pack)
        backend.copy_within(centroids.data() + offsets[b] * d, packed.data() + live_offsets[a] * d,
                            static_cast<std::size_t>(config.problems[b].k * d) * sizeof(float));
      ++iterations[b];
      const double current = inertia[static_cast<size_t>(a)];
      if (!repaired_now[a] && std::abs(previous[b] - current) <= config.tolerance * current) active[b] = 0;
      previous[b] = current;
    }
  }

  // Final assignment of every problem against its final centroids, of all rows on every rank:
  // one more pass over the data, after which every rank holds the whole solution, its labels
  // and margins bitwise those one rank computes from these centroids.
  labels = Buffer<int32_t>(backend, num_problems * n);
  best = Buffer<float>(backend, num_problems * n);
  Buffer<float> second(backend, num_problems * n);
  backend.kmeans_assign(xv, x_sq.data(), centroid_rows(centroids, 0, total_k, d), offsets.data(), num_problems,
                        labels.data(), best.data(), second.data());
  const std::vector<double> inertia = inertia_per_problem(ctx, best, n, num_problems, false);
  const std::vector<int32_t> host_labels = labels.to_host();
  const std::vector<float> host_best = best.to_host();
  const std::vector<float> host_second = second.to_host();
  const std::vector<float> host_centroids = centroids.to_host();

  std::vector<KMeansSolution> solutions(static_cast<size_t>(num_problems));
  for (int b = 0; b < num_problems; ++b) {
    KMeansSolution& s = solutions[static_cast<size_t>(b)];
    const int k = config.problems[b].k;
    s.k = k;
    s.seed = config.problems[b].seed;
    s.centroids = Matrix(k, d);
    std::copy_n(host_centroids.begin() + offsets[b] * d, k * d, s.centroids.data.begin());
    const auto first = static_cast<std::ptrdiff_t>(b * n);
    s.labels.assign(host_labels.begin() + first, host_labels.begin() + first + n);
    s.distance.assign(host_best.begin() + first, host_best.begin() + first + n);
    s.margin.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      s.margin[static_cast<size_t>(i)] = std::max(0.0f, host_second[first + i] - host_best[first + i]);
    s.inertia = inertia[static_cast<size_t>(b)];
    s.iterations = iterations[b];
    s.empty_repaired = repaired[b];
  }
  return solutions;
}

}  // namespace cohort
