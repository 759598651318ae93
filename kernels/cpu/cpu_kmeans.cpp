// Batched k-means on the CPU: assignment through one GEMM per row block against every
// problem's centroids, deterministic accumulation, greedy k-means++ seeding.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_ops.hpp"
#include "kernels/error.hpp"

namespace cohort::cpu {
namespace {

// Scratch of one assignment block (rows x total_k floats) stays near this many floats.
constexpr int64_t kAssignScratchFloats = int64_t{4} << 20;
constexpr int64_t kAssignMaxBlock = 2048;
// Accumulation: rows are cut into at most kMaxChunks fixed chunks of at least kMinChunkRows;
// the chunking depends on the sizes only, never on the thread count or the schedule.
constexpr int64_t kMinChunkRows = 4096;
constexpr int64_t kMaxChunks = 16;
constexpr int64_t kMaxPartialDoubles = int64_t{8} << 20;
// k-means++: rows per GEMM block and per fixed chunk of the potential sums.
constexpr int64_t kSeedBlockRows = 16384;
constexpr int64_t kSeedChunkRows = 4096;

void check_dense(const char* op, const char* what, MatrixView<const float> m) {
  COHORT_CHECK(m.rows >= 0 && m.cols >= 0 && m.ld >= m.cols, "{}: {} has shape {} x {} with ld {}", op, what,
               m.rows, m.cols, m.ld);
  COHORT_CHECK(m.data != nullptr || m.rows == 0 || m.cols == 0, "{}: {} ({} x {}) has no data", op, what, m.rows,
               m.cols);
}

// k_offsets must start at 0, give every problem at least one centroid and end at total_k.
void check_offsets(const char* op, const int64_t* k_offsets, int num_problems, int64_t total_k) {
  COHORT_CHECK(num_problems >= 1, "{}: num_problems must be >= 1, got {}", op, num_problems);
  COHORT_CHECK(k_offsets != nullptr, "{}: k_offsets is null", op);
  COHORT_CHECK(k_offsets[0] == 0, "{}: k_offsets[0] is {}, expected 0", op, k_offsets[0]);
  for (int b = 0; b < num_problems; ++b) {
    COHORT_CHECK(k_offsets[b + 1] > k_offsets[b], "{}: problem {} has k = {} (k_offsets {} -> {})", op, b,
                 k_offsets[b + 1] - k_offsets[b], k_offsets[b], k_offsets[b + 1]);
  }
  COHORT_CHECK(k_offsets[num_problems] == total_k, "{}: k_offsets ends at {} but there are {} centroids", op,
               k_offsets[num_problems], total_k);
}

}  // namespace

void kmeans_assign(MatrixView<const float> x, const float* x_sq_norms, MatrixView<const float> centroids,
                   const int64_t* k_offsets, int num_problems, int32_t* labels, float* best_dist,
                   float* second_dist) {
  check_dense("kmeans_assign", "x", x);
  check_dense("kmeans_assign", "centroids", centroids);
  COHORT_CHECK(centroids.cols == x.cols, "kmeans_assign: centroids have {} columns, x has {}", centroids.cols,
               x.cols);
  check_offsets("kmeans_assign", k_offsets, num_problems, centroids.rows);
  const int64_t n = x.rows;
  const int64_t total_k = centroids.rows;
  if (n == 0) return;
  COHORT_CHECK(x_sq_norms != nullptr && labels != nullptr && best_dist != nullptr,
               "kmeans_assign: x_sq_norms, labels and best_dist must not be null");

  std::vector<float> c_sq(static_cast<std::size_t>(total_k));
  row_sq_norms(centroids, c_sq.data());

  const int64_t block = std::clamp(kAssignScratchFloats / total_k, int64_t{1}, kAssignMaxBlock);
  std::vector<float> dots(static_cast<std::size_t>(std::min(block, n) * total_k));
  for (int64_t begin = 0; begin < n; begin += block) {
    const int64_t end = std::min(n, begin + block);
    // dots = -2 x_block c^T; then dist = |x|^2 - 2 x.c + |c|^2 row by row.
    MatrixView<float> d(dots.data(), end - begin, total_k);
    gemm_nt(-2.0f, x.rows_range(begin, end), centroids, 0.0f, d);
#pragma omp parallel for schedule(static)
    for (int64_t i = begin; i < end; ++i) {
      const float* row = d.row(i - begin);
      const float xs = x_sq_norms[i];
      for (int b = 0; b < num_problems; ++b) {
        float best = std::numeric_limits<float>::infinity();
        float second = best;
        int32_t label = 0;
        const int64_t lo = k_offsets[b];
        const int64_t hi = k_offsets[b + 1];
        // Strict < keeps the lowest index on ties; an equal distance still becomes second.
        for (int64_t c = lo; c < hi; ++c) {
          const float dist = std::max(0.0f, xs + row[c] + c_sq[c]);
          if (dist < best) {
            second = best;
            best = dist;
            label = static_cast<int32_t>(c - lo);
          } else if (dist < second) {
            second = dist;
          }
        }
        if (hi - lo == 1) second = best;
        labels[b * n + i] = label;
        best_dist[b * n + i] = best;
        if (second_dist != nullptr) second_dist[b * n + i] = second;
      }
    }
  }
}

void kmeans_accumulate(MatrixView<const float> x, const int32_t* labels, const int64_t* k_offsets, int num_problems,
                       double* sums, double* counts) {
  check_dense("kmeans_accumulate", "x", x);
  COHORT_CHECK(num_problems >= 1 && k_offsets != nullptr,
               "kmeans_accumulate: needs k_offsets for num_problems >= 1 (got {})", num_problems);
  const int64_t total_k = k_offsets[num_problems];
  check_offsets("kmeans_accumulate", k_offsets, num_problems, total_k);
  const int64_t n = x.rows;
  const int64_t d = x.cols;
  if (n == 0) return;
  COHORT_CHECK(labels != nullptr && sums != nullptr && counts != nullptr,
               "kmeans_accumulate: labels, sums and counts must not be null");

  // Fixed chunks, each with its own partial sums (total_k x d, then total_k counts), reduced
  // in chunk order: the same bits whatever the thread count.
  const int64_t stride = total_k * (d + 1);
  const int64_t max_chunks = std::clamp(kMaxPartialDoubles / stride, int64_t{1}, kMaxChunks);
  const int64_t chunk_rows = std::max(kMinChunkRows, (n + max_chunks - 1) / max_chunks);
  const int64_t chunks = (n + chunk_rows - 1) / chunk_rows;
  std::vector<double> partial(static_cast<std::size_t>(chunks * stride), 0.0);

  bool bad_label = false;
#pragma omp parallel for schedule(dynamic, 1) reduction(||: bad_label)
  for (int64_t ch = 0; ch < chunks; ++ch) {
    double* psum = partial.data() + ch * stride;
    double* pcount = psum + total_k * d;
    const int64_t end = std::min(n, (ch + 1) * chunk_rows);
    for (int64_t i = ch * chunk_rows; i < end; ++i) {
      const float* row = x.row(i);
      for (int b = 0; b < num_problems; ++b) {
        const int32_t label = labels[b * n + i];
        if (label < 0 || label >= k_offsets[b + 1] - k_offsets[b]) {
          bad_label = true;
          continue;
        }
        const int64_t c = k_offsets[b] + label;
        double* s = psum + c * d;
        for (int64_t j = 0; j < d; ++j) s[j] += row[j];
        pcount[c] += 1.0;
      }
    }
  }
  COHORT_CHECK(!bad_label, "kmeans_accumulate: a label is outside [0, k) of its problem");

#pragma omp parallel for schedule(static)
  for (int64_t e = 0; e < stride; ++e) {
    double s = 0.0;
    for (int64_t ch = 0; ch < chunks; ++ch) s += partial[ch * stride + e];
    if (e < total_k * d) {
      sums[e] += s;
    } else {
      counts[e - total_k * d] += s;
    }
  }
}

void kmeans_finalize(const double* sums, const double* counts, MatrixView<float> centroids) {
  COHORT_CHECK(centroids.rows >= 0 && centroids.cols >= 0 && centroids.ld >= centroids.cols,
               "kmeans_finalize: centroids have shape {} x {} with ld {}", centroids.rows, centroids.cols,
               centroids.ld);
  if (centroids.rows == 0) return;
  COHORT_CHECK(sums != nullptr && counts != nullptr && centroids.data != nullptr,
               "kmeans_finalize: sums, counts and centroids must not be null");
  const int64_t d = centroids.cols;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < centroids.rows; ++c) {
    if (!(counts[c] > 0.0)) continue;
    const double inv = 1.0 / counts[c];
    float* out = centroids.row(c);
    for (int64_t j = 0; j < d; ++j) out[j] = static_cast<float>(sums[c * d + j] * inv);
  }
}

void sum_per_problem(const float* values, int64_t n, int num_problems, double* out) {
  COHORT_CHECK(n >= 0 && num_problems >= 0, "sum_per_problem: n = {}, num_problems = {}", n, num_problems);
  if (num_problems == 0) return;
  COHORT_CHECK(out != nullptr && (values != nullptr || n == 0), "sum_per_problem: values or out is null");
  // One thread per problem sums its row in index order: deterministic.
#pragma omp parallel for schedule(dynamic, 1)
  for (int b = 0; b < num_problems; ++b) {
    const float* v = values + b * n;
    double s = 0.0;
    for (int64_t i = 0; i < n; ++i) s += v[i];
    out[b] = s;
  }
}

namespace {

// Squared distances from every row of x to a few candidate rows, folded into the running
// potentials: for each candidate l, pot[l] = sum_i min(closest[i], |x_i - x_cand(l)|^2).
// With update, closest[i] itself becomes that minimum (one candidate only).
class SeedDistances {
 public:
  SeedDistances(MatrixView<const float> x, const float* x_sq) : x_(x), x_sq_(x_sq) {}

  std::vector<double> potentials(const std::vector<int64_t>& cand, std::vector<float>& closest, bool update) {
    const int64_t n = x_.rows;
    const int64_t l_count = static_cast<int64_t>(cand.size());
    cand_rows_.resize(static_cast<std::size_t>(l_count * x_.cols));
    for (int64_t l = 0; l < l_count; ++l) {
      std::copy_n(x_.row(cand[l]), x_.cols, cand_rows_.data() + l * x_.cols);
    }
    MatrixView<const float> c(cand_rows_.data(), l_count, x_.cols);
    const int64_t chunks = (n + kSeedChunkRows - 1) / kSeedChunkRows;
    std::vector<double> partial(static_cast<std::size_t>(chunks * l_count), 0.0);
    dots_.resize(static_cast<std::size_t>(std::min(n, kSeedBlockRows) * l_count));
    for (int64_t begin = 0; begin < n; begin += kSeedBlockRows) {
      const int64_t end = std::min(n, begin + kSeedBlockRows);
      MatrixView<float> dots(dots_.data(), end - begin, l_count);
      gemm_nt(-2.0f, x_.rows_range(begin, end), c, 0.0f, dots);
      // kSeedBlockRows is a multiple of kSeedChunkRows: chunks never straddle blocks.
#pragma omp parallel for schedule(static)
      for (int64_t ch = begin / kSeedChunkRows; ch < (end + kSeedChunkRows - 1) / kSeedChunkRows; ++ch) {
        const int64_t lo = ch * kSeedChunkRows;
        const int64_t hi = std::min(end, lo + kSeedChunkRows);
        double* p = partial.data() + ch * l_count;
        for (int64_t i = lo; i < hi; ++i) {
          const float* row = dots.row(i - begin);
          for (int64_t l = 0; l < l_count; ++l) {
            const float dist = std::max(0.0f, x_sq_[i] + row[l] + x_sq_[cand[l]]);
            const float m = std::min(closest[i], dist);
            p[l] += m;
            if (update) closest[i] = m;
          }
        }
      }
    }
    if (update) {
      for (int64_t cidx : cand) closest[cidx] = 0.0f;  // a chosen row is at distance 0 exactly
    }
    std::vector<double> pot(static_cast<std::size_t>(l_count), 0.0);
    for (int64_t ch = 0; ch < chunks; ++ch) {
      for (int64_t l = 0; l < l_count; ++l) pot[l] += partial[ch * l_count + l];
    }
    return pot;
  }

 private:
  MatrixView<const float> x_;
  const float* x_sq_;
  std::vector<float> cand_rows_;
  std::vector<float> dots_;
};

// The row i with cumulative[i - 1] <= r < cumulative[i]: a draw proportional to closest.
int64_t sample_row(const std::vector<double>& cumulative, const std::vector<float>& closest, double r) {
  const int64_t n = static_cast<int64_t>(cumulative.size());
  int64_t i = std::upper_bound(cumulative.begin(), cumulative.end(), r) - cumulative.begin();
  if (i >= n) i = n - 1;
  // Rounding can land on a row of weight 0 at the end; step back to one with weight.
  while (i > 0 && !(closest[i] > 0.0f)) --i;
  return i;
}

}  // namespace

void kmeans_plus_plus(MatrixView<const float> x, const float* x_sq_norms, int k, uint64_t seed,
                      MatrixView<float> centroids) {
  check_dense("kmeans_plus_plus", "x", x);
  COHORT_CHECK(k >= 1, "kmeans_plus_plus: k must be >= 1, got {}", k);
  COHORT_CHECK(k <= x.rows, "kmeans_plus_plus: k = {} exceeds the {} rows of x", k, x.rows);
  COHORT_CHECK(x_sq_norms != nullptr, "kmeans_plus_plus: x_sq_norms is null");
  COHORT_CHECK(centroids.rows == k && centroids.cols == x.cols && centroids.ld >= centroids.cols &&
                   centroids.data != nullptr,
               "kmeans_plus_plus: centroids are {} x {}, expected {} x {}", centroids.rows, centroids.cols, k,
               x.cols);
  const int64_t n = x.rows;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  auto uniform_row = [&] { return std::uniform_int_distribution<int64_t>(0, n - 1)(rng); };

  SeedDistances distances(x, x_sq_norms);
  std::vector<float> closest(static_cast<std::size_t>(n), std::numeric_limits<float>::infinity());
  std::vector<int64_t> chosen{uniform_row()};
  distances.potentials(chosen, closest, true);

  const int trials = 2 + static_cast<int>(std::floor(std::log(static_cast<double>(k))));
  std::vector<double> cumulative(static_cast<std::size_t>(n));
  std::vector<int64_t> cand(static_cast<std::size_t>(trials));
  for (int step = 1; step < k; ++step) {
    double run = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      run += closest[i];
      cumulative[i] = run;
    }
    const double potential = run;
    for (int t = 0; t < trials; ++t) {
      // Every row already coincides with a centre: D^2 sampling is undefined, draw uniformly.
      cand[t] = potential > 0.0 ? sample_row(cumulative, closest, unit(rng) * potential) : uniform_row();
    }
    std::vector<double> pot = distances.potentials(cand, closest, false);
    const int best = static_cast<int>(std::min_element(pot.begin(), pot.end()) - pot.begin());
    chosen.push_back(cand[best]);
    distances.potentials({cand[best]}, closest, true);
  }
  for (int c = 0; c < k; ++c) std::copy_n(x.row(chosen[c]), x.cols, centroids.row(c));
}

}  // namespace cohort::cpu
