// The Backend: coarse operations on memory it owns (architecture.md).
//
// Every pointer passed to an operation points to memory this backend allocated (device memory
// for CUDA, host memory for the CPU) unless its comment says "host". Operations are ordered on
// the backend's stream: they may return before the work is done; copy_to_host and anything
// returning a value to the host block until the result is ready. Every operation has one CPU
// implementation (kernels/cpu, the reference) and one CUDA implementation (kernels/cuda).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/views.hpp"

namespace cohort {

enum class SolverKind { cholesky, conjugate_gradient };

// implicit: Hu, Koren, Volinsky 2008. Stored values are confidences c_ui >= 1 (preference 1).
//   x_u = (YtY + reg I + sum_i (c_ui - 1) y_i y_i^T)^-1 sum_i c_ui y_i
// explicit_ratings: ridge regression on the stored ratings r_ui only, its penalty scaled by the
// row's count of ratings n_u (weighted-lambda regularisation, "ALS-WR", Zhou et al. 2008, as
// Spark's ALS does): a row with many ratings is not shrunk like one with few.
//   x_u = (reg n_u I + sum_i y_i y_i^T)^-1 sum_i r_ui y_i
enum class AlsMode { implicit, explicit_ratings };

struct BprStats {
  int64_t samples = 0;   // (user, positive, negative) triples drawn
  int64_t correct = 0;   // triples already ranked right (x_ui > x_uj) before the update
  int64_t skipped = 0;   // draws where the negative was a positive of the user
};

// The terms of a per-user score over all items:
//   score(u, i) = dot_weight[u] * (user_factors[u] . item_factors[i])
//               + group_weight[u] * group_scores[user_group[u], i]
// A term is absent when its matrix's data is null. Null weights mean 1. `dots` (rows x items,
// contiguous) gives the products user_factors[u] . item_factors[i] already computed, in place
// of the factors: recommenders that share them compute them once.
struct ScoreTerms {
  MatrixView<const float> user_factors{};  // rows x f
  MatrixView<const float> item_factors{};  // items x f
  MatrixView<const float> dots{};          // rows x items, ld == items; excludes the factors
  const float* dot_weight = nullptr;       // rows
  MatrixView<const float> group_scores{};  // groups x items
  const int32_t* user_group = nullptr;     // rows; required when group_scores is given
  const float* group_weight = nullptr;     // rows
};

class Backend {
 public:
  virtual ~Backend() = default;
  Backend() = default;
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  // "cpu" or "cuda:0"; description() adds the device name, memory and threads.
  virtual std::string name() const = 0;
  virtual std::string description() const = 0;
  // True when the backend's memory is not addressable from the host.
  virtual bool on_device() const = 0;

  // ---- memory ----
  // Throws Error(out_of_memory) naming the size asked and the size free.
  virtual void* allocate(std::size_t bytes) = 0;
  virtual void release(void* ptr) noexcept = 0;
  virtual void copy_to_backend(void* dst, const void* host_src, std::size_t bytes) = 0;
  virtual void copy_to_host(void* host_dst, const void* src, std::size_t bytes) = 0;  // blocks
  virtual void copy_within(void* dst, const void* src, std::size_t bytes) = 0;
  virtual void fill_zero(void* dst, std::size_t bytes) = 0;
  virtual void synchronize() = 0;

  // ---- dense helpers ----
  // c = alpha * a * b^T + beta * c; a: m x k, b: n x k, c: m x n.
  virtual void gemm_nt(float alpha, MatrixView<const float> a, MatrixView<const float> b, float beta,
                       MatrixView<float> c) = 0;
  // out[i] = sum_j x(i, j)^2; out: x.rows.
  virtual void row_sq_norms(MatrixView<const float> x, float* out) = 0;
  // Each row scaled to unit Euclidean norm; all-zero rows stay zero.
  virtual void normalize_rows(MatrixView<float> x) = 0;
  // Euclidean distances from dot products, in place: dots (m x n) holds -2 u_r . v_j (gemm_nt
  // with alpha -2) and becomes sqrt(max(0, row_sq[r] + col_sq[j] + dots(r, j))); row_sq: m,
  // col_sq: n. The entry (r, r + self_offset), a point against itself, is set to exactly 0
  // where it exists (pass self_offset >= n when the rows and columns are different points).
  virtual void distances_from_dots(MatrixView<float> dots, const float* row_sq, const float* col_sq,
                                   int64_t self_offset) = 0;

  // ---- sparse similarity ----
  // Top-k cosine neighbours of rows [row_begin, row_end) of `a` among all rows of `a`:
  //   sim(i, j) = <a_i, a_j> / (|a_i| |a_j|).
  // a_t is the transpose of a (a.cols x a.rows), used to find the rows sharing a column.
  // Output rows (row_end - row_begin) x k, row-major: neighbours sorted by descending score,
  // ties by ascending index; only positive scores; the rest padded with index -1, score 0.
  virtual void topk_cosine(CsrView a, CsrView a_t, int64_t row_begin, int64_t row_end, int k,
                           bool exclude_self, int32_t* out_index, float* out_score) = 0;

  // ---- embedding training ----
  // out = y^T y; y: n x f, out: f x f row-major (accumulated in double on the CPU).
  virtual void gram(MatrixView<const float> y, float* out) = 0;
  // Solves every row u of `rows` (rows.rows x rows.cols, values as AlsMode says) for x_u given
  // y (rows.cols x f). gram: f x f (y^T y) for implicit, ignored (may be null) for explicit.
  // cholesky: exact solve. conjugate_gradient: cg_steps steps warm-started from x's content.
  // x: rows.rows x f, overwritten. Rows with no entries get x_u = 0 (implicit: the solution).
  virtual void als_solve(CsrView rows, MatrixView<const float> y, const float* gram, float reg,
                         AlsMode mode, SolverKind solver, int cg_steps, MatrixView<float> x) = 0;
  // Data term of the loss over `rows`, without regularisation; blocks.
  //   implicit: sum_u [ sum_over_all_i (p_ui - x_u.y_i)^2 + sum_{i in u} (c_ui - 1)(1 - x_u.y_i)^2 ]
  //             with p_ui = 1 for stored entries, 0 otherwise (gram makes the all-items sum cheap).
  //   explicit: sum_{(u,i) stored} (r_ui - x_u.y_i)^2.
  virtual double als_loss(CsrView rows, MatrixView<const float> x, MatrixView<const float> y,
                          const float* gram, AlsMode mode) = 0;
  // One epoch of BPR SGD: `samples` draws of (user u with a positive, positive i, random item j),
  //   x_uij = x_u.(y_i - y_j); gradient ascent on ln sigmoid(x_uij) - reg (|x_u|^2+|y_i|^2+|y_j|^2).
  // Updates users and items in place (lock-free across threads). Deterministic for a seed
  // on one thread; with several threads, as deterministic as Hogwild allows. Blocks.
  virtual BprStats bpr_epoch(CsrView user_items, MatrixView<float> users, MatrixView<float> items,
                             float learning_rate, float reg, int64_t samples, uint64_t seed) = 0;

  // ---- batched k-means ----
  // B problems share the rows x (n x d). Problem b owns centroid rows
  // [k_offsets[b], k_offsets[b+1]) of `centroids` (total_k x d). k_offsets: host, B + 1 entries.
  // x_sq_norms: n (from row_sq_norms). Outputs are B x n, row-major by problem:
  //   labels[b*n + i]: index of the nearest centroid within problem b (0-based, local),
  //   best_dist / second_dist: squared Euclidean distance to the nearest / second nearest
  //   (clamped >= 0; second_dist may be null; a problem with k = 1 gets second = best).
  virtual void kmeans_assign(MatrixView<const float> x, const float* x_sq_norms,
                             MatrixView<const float> centroids, const int64_t* k_offsets,
                             int num_problems, int32_t* labels, float* best_dist,
                             float* second_dist) = 0;
  // sums (total_k x d) and counts (total_k) += the rows of x per assigned centroid.
  virtual void kmeans_accumulate(MatrixView<const float> x, const int32_t* labels,
                                 const int64_t* k_offsets, int num_problems, double* sums,
                                 double* counts) = 0;
  // centroids[c] = sums[c] / counts[c] where counts[c] > 0; other rows are left unchanged.
  virtual void kmeans_finalize(const double* sums, const double* counts, MatrixView<float> centroids) = 0;
  // out_host[b] = sum_i values[b*n + i] for b < num_problems, in double; blocks.
  virtual void sum_per_problem(const float* values, int64_t n, int num_problems, double* out_host) = 0;
  // k-means++ seeding (Arthur, Vassilvitskii 2007): k rows of x chosen by D^2 sampling with
  // the given seed, written to centroids (k x d). Greedy variant: at each step the best of
  // 2 + log(k) candidates. Deterministic for a seed.
  virtual void kmeans_plus_plus(MatrixView<const float> x, const float* x_sq_norms, int k,
                                uint64_t seed, MatrixView<float> centroids) = 0;

  // ---- scoring ----
  // Top-k items for each of `rows` users by ScoreTerms, skipping the items in row u of
  // `exclude` (rows x items, may have rows == 0 for none). items = number of items.
  // Output rows x k sorted by descending score, ties by ascending index; padded with -1.
  virtual void score_topk(const ScoreTerms& terms, int64_t rows, int64_t items, CsrView exclude,
                          int k, int32_t* out_index, float* out_score) = 0;
  // Item-kNN: score(u, i) = sum_{j in user_items[u]} value_uj * sim(j, i) over j's stored
  // neighbours (neighbour_index/score: items x neighbours, -1 padded). Then as score_topk.
  virtual void knn_score_topk(CsrView user_items, const int32_t* neighbour_index,
                              const float* neighbour_score, int neighbours, int64_t items,
                              CsrView exclude, int k, int32_t* out_index, float* out_score) = 0;
};

}  // namespace cohort
