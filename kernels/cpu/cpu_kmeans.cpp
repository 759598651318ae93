// Batched k-means on the CPU: assignment through one GEMM per row block against every
// problem's centroids, deterministic accumulation, greedy k-means++ seeding.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "kernels/backend_checks.hpp"
#include "kernels/cpu/cpu_ops.hpp"
#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/hot_clones.hpp"
#include "kernels/error.hpp"

namespace cohort::cpu {
namespace {

// Scratch of one assignment block (rows x total_k floats) stays near this many floats.
constexpr int64_t kAssignScratchFloats = int64_t{4} << 20;
constexpr int64_t kAssignMaxBlock = 2048;
constexpr int64_t kAssignSegment = 256;
// An assignment of fewer multiply-adds than this stays on the calling thread.
constexpr int64_t kAssignParallelWork = int64_t{1} << 22;
// Accumulation: rows are cut into at most kMaxChunks fixed chunks of at least kMinChunkRows;
// the chunking depends on the sizes only, never on the thread count or the schedule.
constexpr int64_t kMinChunkRows = 2048;
constexpr int64_t kMaxChunks = 64;
constexpr int64_t kMaxPartialDoubles = int64_t{8} << 20;
// k-means++: rows per fixed chunk of the potential sums. A pass of fewer multiply-adds than
// kSeedParallelWork (well under a millisecond) runs on the calling thread. With OpenBLAS off
// the OpenMP pool's cores (gemm.hpp) a pass of 18,000 x 6 x 64 gains from two threads, and
// with one of 2 cores busy elsewhere the default sweep takes 1.3-1.6 s rather than 0.8 s.
constexpr int64_t kSeedChunkRows = 1024;
constexpr int64_t kSeedParallelWork = int64_t{1} << 20;
// A seeding distance at most this share of |x|^2 + |c|^2 is recomputed by differences.
constexpr float kSeedExactBelow = 1e-4f;

// Nearest and second-nearest centroid of rows [s0, s0 + len) of an assignment block among
// centroids [lo, hi), from dots(c, i) = -2 c.x_i. Adds, compares and selects only, so the
// AVX2 clone gives the same bits.
COHORT_HOT_CLONES void scan_segment(MatrixView<const float> dm, const float* c_sq, int64_t lo, int64_t hi,
                                    int64_t s0, int64_t len, const float* __restrict xs, float* __restrict best,
                                    float* __restrict second, int32_t* __restrict label) {
  std::fill_n(best, len, std::numeric_limits<float>::infinity());
  std::fill_n(second, len, std::numeric_limits<float>::infinity());
  std::fill_n(label, len, 0);
  for (int64_t c = lo; c < hi; ++c) {
    const float* dc = dm.row(c) + s0;
    const float cs = c_sq[c];
    const int32_t local = static_cast<int32_t>(c - lo);
    // dist = |x|^2 - 2 x.c + |c|^2. best = min(best, dist) and second = min(second,
    // max(best, dist)) keep the two smallest, an equal distance becoming the second;
    // strict < moves the label, so ties keep the lowest index. Written as plain
    // min/max selects so that the compiler vectorises it.
#pragma omp simd
    for (int64_t i = 0; i < len; ++i) {
      const float raw = xs[i] + dc[i] + cs;
      const float dist = raw > 0.0f ? raw : 0.0f;
      const float b_old = best[i];
      const float s_old = second[i];
      const float larger = b_old > dist ? b_old : dist;
      second[i] = s_old < larger ? s_old : larger;
      best[i] = b_old < dist ? b_old : dist;
      label[i] = dist < b_old ? local : label[i];
    }
  }
}

// sums[label] += x_i and counts[label] += 1 for rows [begin, end) of one problem (k labels);
// false when a label is outside [0, k). Each element's sum is exact in the clone too.
COHORT_HOT_CLONES bool add_rows_to_sums(MatrixView<const float> x, const int32_t* labels, int64_t begin, int64_t end,
                                        int32_t k, double* __restrict sums, double* __restrict counts) {
  const int64_t d = x.cols;
  bool ok = true;
  for (int64_t i = begin; i < end; ++i) {
    const int32_t label = labels[i];
    if (label < 0 || label >= k) {
      ok = false;
      continue;
    }
    const float* __restrict row = x.row(i);
    double* __restrict s = sums + label * d;
    for (int64_t j = 0; j < d; ++j) s[j] += row[j];
    counts[label] += 1.0;
  }
  return ok;
}

}  // namespace

void kmeans_assign(MatrixView<const float> x, const float* x_sq_norms, MatrixView<const float> centroids,
                   const int64_t* k_offsets, int num_problems, int32_t* labels, float* best_dist,
                   float* second_dist) {
  check_kmeans_assign_args(x, x_sq_norms, centroids, k_offsets, num_problems, labels, best_dist);
  const int64_t n = x.rows;
  const int64_t total_k = centroids.rows;
  if (n == 0) return;

  std::vector<float> c_sq(static_cast<std::size_t>(total_k));
  for (int64_t c = 0; c < total_k; ++c) {
    const float* row = centroids.row(c);
    double sum = 0.0;
    for (int64_t j = 0; j < centroids.cols; ++j) sum += static_cast<double>(row[j]) * row[j];
    c_sq[c] = static_cast<float>(sum);
  }

  // Row blocks across threads, each a single-threaded GEMM and its scan; the blocks depend on
  // the sizes only, so the result does not depend on the thread count.
  const int64_t block = std::clamp(kAssignScratchFloats / total_k, int64_t{1}, kAssignMaxBlock);
  const int64_t blocks = (n + block - 1) / block;
#pragma omp parallel if (blocks > 1 && n * total_k * x.cols >= kAssignParallelWork)
  {
    // Left uninitialised: the GEMM (beta = 0) writes every element before the scan reads it.
    std::unique_ptr<float[]> dots(new float[static_cast<std::size_t>(std::min(block, n) * total_k)]);
    float best[kAssignSegment];
    float second[kAssignSegment];
    int32_t label[kAssignSegment];
#pragma omp for schedule(dynamic, 1)
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const int64_t begin = blk * block;
      const int64_t rows = std::min(n, begin + block) - begin;
      // dots(c, i) = -2 c.x_i, centroid-major, so that the scan below runs along contiguous
      // rows of x for one centroid at a time and vectorises across rows.
      MatrixView<float> dm(dots.get(), total_k, rows);
      gemm_nt_on(1, -2.0f, centroids, x.rows_range(begin, begin + rows), 0.0f, dm);
      for (int b = 0; b < num_problems; ++b) {
        const int64_t lo = k_offsets[b];
        const int64_t hi = k_offsets[b + 1];
        // Segments of rows small enough for best / second / label to stay in L1.
        for (int64_t s0 = 0; s0 < rows; s0 += kAssignSegment) {
          const int64_t len = std::min(rows - s0, kAssignSegment);
          scan_segment(dm, c_sq.data(), lo, hi, s0, len, x_sq_norms + begin + s0, best, second, label);
          const int64_t out = b * n + begin + s0;
          std::copy_n(label, len, labels + out);
          std::copy_n(best, len, best_dist + out);
          if (second_dist != nullptr) std::copy_n(hi - lo == 1 ? best : second, len, second_dist + out);
        }
      }
    }
  }
}

void kmeans_accumulate(MatrixView<const float> x, const int32_t* labels, const int64_t* k_offsets, int num_problems,
                       double* sums, double* counts) {
  check_kmeans_accumulate_args(x, labels, k_offsets, num_problems, sums, counts);
  const int64_t total_k = k_offsets[num_problems];
  const int64_t n = x.rows;
  const int64_t d = x.cols;
  if (n == 0) return;

  // Fixed chunks, each with its own partial sums (total_k x d, then total_k counts), reduced
  // in chunk order: the same bits whatever the thread count.
  const int64_t stride = total_k * (d + 1);
  const int64_t max_chunks = std::clamp(kMaxPartialDoubles / stride, int64_t{1}, kMaxChunks);
  const int64_t chunk_rows = std::max(kMinChunkRows, (n + max_chunks - 1) / max_chunks);
  const int64_t chunks = (n + chunk_rows - 1) / chunk_rows;
  // Each chunk zeroes its own partial sums, on the thread that fills them.
  std::unique_ptr<double[]> partial(new double[static_cast<std::size_t>(chunks * stride)]);

  bool bad_label = false;
#pragma omp parallel for schedule(dynamic, 1) reduction(||: bad_label)
  for (int64_t ch = 0; ch < chunks; ++ch) {
    double* psum = partial.get() + ch * stride;
    std::fill_n(psum, stride, 0.0);
    double* pcount = psum + total_k * d;
    const int64_t end = std::min(n, (ch + 1) * chunk_rows);
    // Problem by problem over the chunk's rows: one problem's k sums stay in L1 and the
    // chunk's rows in L2, where a row-by-row pass would scatter into every problem's sums.
    for (int b = 0; b < num_problems; ++b) {
      const int32_t k_b = static_cast<int32_t>(k_offsets[b + 1] - k_offsets[b]);
      if (!add_rows_to_sums(x, labels + b * n, ch * chunk_rows, end, k_b, psum + k_offsets[b] * d,
                            pcount + k_offsets[b]))
        bad_label = true;
    }
  }
  COHORT_CHECK(!bad_label, "kmeans_accumulate: a label is outside [0, k) of its problem");

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
  check_kmeans_finalize_args(sums, counts, centroids);
  if (centroids.rows == 0 || centroids.cols == 0) return;
  const int64_t d = centroids.cols;
  // total_k x d divisions: too little work to wake a thread team for.
  for (int64_t c = 0; c < centroids.rows; ++c) {
    if (!(counts[c] > 0.0)) continue;
    const double inv = 1.0 / counts[c];
    float* out = centroids.row(c);
    for (int64_t j = 0; j < d; ++j) out[j] = static_cast<float>(sums[c * d + j] * inv);
  }
}

void sum_per_problem(const float* values, int64_t n, int num_problems, double* out) {
  check_sum_per_problem_args(values, n, num_problems, out);
  // Each problem summed in index order: deterministic. One pass over B x n floats, on the
  // calling thread: too little work to wake a thread team for.
  for (int b = 0; b < num_problems; ++b) {
    const float* v = values + b * n;
    double s = 0.0;
    for (int64_t i = 0; i < n; ++i) s += v[i];
    out[b] = s;
  }
}

namespace {

// Squared distance by differences: exact 0 for a duplicate row.
float exact_sq_distance(const float* a, const float* b, int64_t d) {
  float s = 0.0f;
  for (int64_t j = 0; j < d; ++j) {
    const float t = a[j] - b[j];
    s += t * t;
  }
  return s;
}

// Rows [lo, hi) against the candidate rows c (L x d): trial[i * L + l] = min(closest[i], dist)
// and pot[l] += trial[i * L + l] in row order. dist = |x_i|^2 + |c_l|^2 - 2 x_i.c_l from one
// single-threaded GEMM into dots ((hi - lo) x L); a distance within rounding of zero is
// recomputed by differences, so that a duplicate of a centre gets exactly 0 and is never drawn.
void seed_chunk(MatrixView<const float> x, const float* x_sq, MatrixView<const float> c, const float* c_sq,
                const float* closest, int64_t lo, int64_t hi, float* dots, float* trial, double* pot) {
  const int64_t l_count = c.rows;
  gemm_nt_on(1, -2.0f, x.rows_range(lo, hi), c, 0.0f, MatrixView<float>{dots, hi - lo, l_count, l_count});
  for (int64_t i = lo; i < hi; ++i) {
    const float* dot = dots + (i - lo) * l_count;
    for (int64_t l = 0; l < l_count; ++l) {
      const float scale = x_sq[i] + c_sq[l];
      float dist = scale + dot[l];
      if (dist <= kSeedExactBelow * scale) dist = exact_sq_distance(x.row(i), c.row(l), x.cols);
      const float m = std::min(closest[i], dist);
      trial[i * l_count + l] = m;
      pot[l] += m;
    }
  }
}

// The state of one greedy k-means++ run: closest[i] = squared distance from row i to the
// nearest centre chosen so far. Seeding makes about k (2 + ln k) passes over x, each against
// the 2 + ln k candidate rows: one OpenMP loop over fixed chunks of rows, each a small GEMM.
class Seeder {
 public:
  Seeder(MatrixView<const float> x, const float* x_sq) : x_(x), x_sq_(x_sq, x_sq + x.rows) {
    closest_.assign(static_cast<std::size_t>(x.rows), std::numeric_limits<float>::infinity());
  }

  const std::vector<float>& closest() const { return closest_; }

  // For each candidate row l: trial_[i * L + l] = min(closest[i], |x_i - x_l|^2), and the
  // potential sum_i trial_[i * L + l], summed per fixed chunk then in chunk order.
  std::vector<double> evaluate(const std::vector<int64_t>& cand) {
    const int64_t n = x_.rows;
    const int64_t d = x_.cols;
    const int64_t l_count = static_cast<int64_t>(cand.size());
    std::vector<float> c(static_cast<std::size_t>(l_count * d));
    std::vector<float> c_sq(static_cast<std::size_t>(l_count));
    for (int64_t l = 0; l < l_count; ++l) {
      std::copy_n(x_.row(cand[l]), d, c.data() + l * d);
      c_sq[l] = x_sq_[cand[l]];
    }
    const MatrixView<const float> cv(c.data(), l_count, d);
    const int64_t chunks = (n + kSeedChunkRows - 1) / kSeedChunkRows;
    trial_.resize(static_cast<std::size_t>(n * l_count));
    std::vector<double> partial(static_cast<std::size_t>(chunks * l_count), 0.0);
#pragma omp parallel if (n * l_count * d >= kSeedParallelWork)
    {
      std::vector<float> dots(static_cast<std::size_t>(kSeedChunkRows * l_count));
#pragma omp for schedule(dynamic, 1)
      for (int64_t ch = 0; ch < chunks; ++ch) {
        seed_chunk(x_, x_sq_.data(), cv, c_sq.data(), closest_.data(), ch * kSeedChunkRows,
                   std::min(n, (ch + 1) * kSeedChunkRows), dots.data(), trial_.data(), partial.data() + ch * l_count);
      }
    }
    std::vector<double> pot(static_cast<std::size_t>(l_count), 0.0);
    for (int64_t ch = 0; ch < chunks; ++ch) {
      for (int64_t l = 0; l < l_count; ++l) pot[l] += partial[ch * l_count + l];
    }
    l_count_ = l_count;
    return pot;
  }

  // Makes candidate l of the last evaluate a centre.
  void accept(int64_t l) {
    for (int64_t i = 0; i < x_.rows; ++i) closest_[i] = trial_[i * l_count_ + l];
  }

 private:
  MatrixView<const float> x_;
  std::vector<float> x_sq_;
  std::vector<float> closest_;
  std::vector<float> trial_;
  int64_t l_count_ = 0;
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
  check_kmeans_plus_plus_args(x, x_sq_norms, k, centroids);
  const int64_t n = x.rows;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  auto uniform_row = [&] { return std::uniform_int_distribution<int64_t>(0, n - 1)(rng); };

  Seeder seeder(x, x_sq_norms);
  std::vector<int64_t> chosen{uniform_row()};
  seeder.evaluate(chosen);
  seeder.accept(0);

  const int trials = 2 + static_cast<int>(std::floor(std::log(static_cast<double>(k))));
  std::vector<double> cumulative(static_cast<std::size_t>(n));
  std::vector<int64_t> cand(static_cast<std::size_t>(trials));
  for (int step = 1; step < k; ++step) {
    const std::vector<float>& closest = seeder.closest();
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
    std::vector<double> pot = seeder.evaluate(cand);
    const int64_t best = std::min_element(pot.begin(), pot.end()) - pot.begin();
    chosen.push_back(cand[best]);
    seeder.accept(best);
  }
  for (int c = 0; c < k; ++c) std::copy_n(x.row(chosen[c]), x.cols, centroids.row(c));
}

}  // namespace cohort::cpu
