// Argument checks shared by the CPU and CUDA backends: one function per Backend operation,
// checking what backend.hpp documents about shapes, ranges and null pointers, so that both
// backends reject the same calls with the same messages.
//
// Host-side only: nothing here reads through a pointer the backend owns (device memory for
// CUDA); k_offsets is host memory by contract. Checks that only one backend can or must make
// (the CPU walking CSR contents, the GPU's k <= kMaxTopK or int32 launch limits) stay there.
// Header-only so that both the CPU backend (cohort_kernels_cpu) and the CUDA one (compiled by
// nvcc, or by g++ for the CPU emulation) use it.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/backend.hpp"
#include "kernels/error.hpp"
#include "kernels/views.hpp"

namespace cohort {

// rows, cols >= 0, ld >= cols, and data unless the matrix is empty.
inline void check_matrix_arg(const char* op, const char* what, MatrixView<const float> m) {
  COHORT_CHECK(m.rows >= 0 && m.cols >= 0 && m.ld >= m.cols, "{}: {} has shape {} x {} with ld {}", op, what, m.rows,
               m.cols, m.ld);
  COHORT_CHECK(m.data != nullptr || m.rows == 0 || m.cols == 0, "{}: {} ({} x {}) has no data", op, what, m.rows,
               m.cols);
}

// The shape and the arrays of a CSR matrix; its contents are not read.
inline void check_csr_arg(const char* op, const char* what, const CsrView& m) {
  COHORT_CHECK(m.rows >= 0 && m.cols >= 0 && m.nnz >= 0, "{}: {} has shape {} x {} with {} entries", op, what,
               m.rows, m.cols, m.nnz);
  COHORT_CHECK(m.indptr != nullptr || (m.rows == 0 && m.nnz == 0), "{}: {} has no indptr ({} rows, {} entries)", op,
               what, m.rows, m.nnz);
  COHORT_CHECK(m.indices != nullptr || m.nnz == 0, "{}: {} has no indices for {} entries", op, what, m.nnz);
}

// k_offsets (host, num_problems + 1 entries) starts at 0, gives every problem at least one
// centroid and ends at total_k.
inline void check_k_offsets_arg(const char* op, const int64_t* k_offsets, int num_problems, int64_t total_k) {
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

// An exclude matrix has 0 rows (none) or is rows x items.
inline void check_exclude_arg(const char* op, const CsrView& exclude, int64_t rows, int64_t items) {
  if (exclude.rows == 0) return;
  COHORT_CHECK(exclude.rows == rows && exclude.cols == items, "{}: exclude is {} x {}, expected {} x {} (or 0 rows)",
               op, exclude.rows, exclude.cols, rows, items);
  check_csr_arg(op, "exclude", exclude);
}

// ---- dense helpers ----

inline void check_gemm_nt_args(MatrixView<const float> a, MatrixView<const float> b, MatrixView<const float> c) {
  check_matrix_arg("gemm_nt", "a", a);
  check_matrix_arg("gemm_nt", "b", b);
  check_matrix_arg("gemm_nt", "c", c);
  COHORT_CHECK(a.cols == b.cols, "gemm_nt: a is {} x {} but b is {} x {} (inner dimensions differ)", a.rows, a.cols,
               b.rows, b.cols);
  COHORT_CHECK(c.rows == a.rows && c.cols == b.rows, "gemm_nt: c is {} x {}, expected {} x {}", c.rows, c.cols,
               a.rows, b.rows);
}

inline void check_row_sq_norms_args(MatrixView<const float> x, const float* out) {
  check_matrix_arg("row_sq_norms", "x", x);
  COHORT_CHECK(out != nullptr || x.rows == 0, "row_sq_norms: out is null for {} rows", x.rows);
}

inline void check_normalize_rows_args(MatrixView<const float> x) { check_matrix_arg("normalize_rows", "x", x); }

inline void check_distances_from_dots_args(MatrixView<const float> dots, const float* row_sq, const float* col_sq) {
  check_matrix_arg("distances_from_dots", "dots", dots);
  COHORT_CHECK(dots.rows == 0 || dots.cols == 0 || (row_sq != nullptr && col_sq != nullptr),
               "distances_from_dots: row_sq or col_sq is null for a {} x {} matrix", dots.rows, dots.cols);
}

// ---- sparse similarity ----

inline void check_topk_cosine_args(const CsrView& a, const CsrView& a_t, int64_t row_begin, int64_t row_end, int k,
                                   const int32_t* out_index, const float* out_score) {
  check_csr_arg("topk_cosine", "a", a);
  check_csr_arg("topk_cosine", "a_t", a_t);
  COHORT_CHECK(a_t.rows == a.cols && a_t.cols == a.rows && a_t.nnz == a.nnz,
               "topk_cosine: a_t is {} x {} with {} entries, not the transpose of a ({} x {} with {} entries)",
               a_t.rows, a_t.cols, a_t.nnz, a.rows, a.cols, a.nnz);
  COHORT_CHECK(0 <= row_begin && row_begin <= row_end && row_end <= a.rows,
               "topk_cosine: rows [{}, {}) outside the {} rows of a", row_begin, row_end, a.rows);
  COHORT_CHECK(k >= 0, "topk_cosine: k must be >= 0, got {}", k);
  COHORT_CHECK((out_index != nullptr && out_score != nullptr) || row_end == row_begin || k == 0,
               "topk_cosine: output arrays are null");
}

// ---- embedding training ----

inline void check_gram_args(MatrixView<const float> y, const float* out) {
  check_matrix_arg("gram", "y", y);
  COHORT_CHECK(out != nullptr || y.cols == 0, "gram: out is null for f = {}", y.cols);
}

// rows (users x items) against the factors: x one row per row of `rows`, y one per column.
inline void check_als_shapes(const char* op, const CsrView& rows, MatrixView<const float> x,
                             MatrixView<const float> y) {
  check_csr_arg(op, "rows", rows);
  check_matrix_arg(op, "x", x);
  check_matrix_arg(op, "y", y);
  COHORT_CHECK(y.rows == rows.cols, "{}: y has {} rows for a matrix of {} columns", op, y.rows, rows.cols);
  COHORT_CHECK(x.rows == rows.rows && x.cols == y.cols, "{}: x is {} x {}, expected {} x {}", op, x.rows, x.cols,
               rows.rows, y.cols);
}

// A stored value of the rows given to als_solve or als_loss: implicit values are confidences
// c >= 1 (a weight c - 1 < 0 can make A_u indefinite, and the GPU's dual form takes its square
// root); explicit ratings need only be finite. Each backend finds the first bad entry its own
// way (the GPU on the device) and reports it here, so the message is the same.
inline bool als_value_ok(float v, bool implicit) { return std::isfinite(v) && (!implicit || v >= 1.0f); }
inline void check_als_value(const char* op, float v, int64_t entry, bool implicit) {
  COHORT_CHECK(als_value_ok(v, implicit), "{}: stored value {} at entry {} is {}", op, v, entry,
               implicit ? "not a confidence >= 1" : "not finite");
}

inline void check_als_solve_args(const CsrView& rows, MatrixView<const float> y, const float* gram, float reg,
                                 AlsMode mode, SolverKind solver, int cg_steps, MatrixView<const float> x) {
  check_als_shapes("als_solve", rows, x, y);
  const int64_t f = y.cols;
  COHORT_CHECK(f >= 1, "als_solve: factors must be >= 1, got {}", f);
  COHORT_CHECK(std::isfinite(reg) && reg >= 0.0f, "als_solve: reg must be finite and >= 0, got {}", reg);
  COHORT_CHECK(solver != SolverKind::conjugate_gradient || cg_steps >= 1, "als_solve: cg_steps must be >= 1, got {}",
               cg_steps);
  COHORT_CHECK(mode != AlsMode::implicit || gram != nullptr, "als_solve: implicit mode needs the Gram matrix y^T y");
}

inline void check_als_loss_args(const CsrView& rows, MatrixView<const float> x, MatrixView<const float> y,
                                const float* gram, AlsMode mode) {
  check_als_shapes("als_loss", rows, x, y);
  const int64_t f = y.cols;
  COHORT_CHECK(mode != AlsMode::implicit || gram != nullptr || f == 0,
               "als_loss: implicit mode needs the Gram matrix y^T y");
}

// The factors need data only when there is something to draw (stored pairs and samples).
inline void check_bpr_epoch_args(const CsrView& user_items, MatrixView<const float> users,
                                 MatrixView<const float> items, float learning_rate, float reg, int64_t samples) {
  check_csr_arg("bpr_epoch", "user_items", user_items);
  const int64_t f = users.cols;
  COHORT_CHECK(users.rows == user_items.rows && users.cols >= 0 && users.ld >= f,
               "bpr_epoch: users is {} x {} (ld {}) for {} users", users.rows, users.cols, users.ld, user_items.rows);
  COHORT_CHECK(items.rows == user_items.cols && items.cols == f && items.ld >= f,
               "bpr_epoch: items is {} x {} (ld {}), expected {} x {}", items.rows, items.cols, items.ld,
               user_items.cols, f);
  COHORT_CHECK(std::isfinite(learning_rate) && learning_rate >= 0.0f,
               "bpr_epoch: learning_rate must be finite and >= 0, got {}", learning_rate);
  COHORT_CHECK(std::isfinite(reg) && reg >= 0.0f, "bpr_epoch: reg must be finite and >= 0, got {}", reg);
  COHORT_CHECK(samples >= 0, "bpr_epoch: samples must be >= 0, got {}", samples);
  COHORT_CHECK(f == 0 || user_items.nnz == 0 || samples == 0 || (users.data != nullptr && items.data != nullptr),
               "bpr_epoch: factors are null");
}

// ---- batched k-means ----

inline void check_kmeans_assign_args(MatrixView<const float> x, const float* x_sq_norms,
                                     MatrixView<const float> centroids, const int64_t* k_offsets, int num_problems,
                                     const int32_t* labels, const float* best_dist) {
  check_matrix_arg("kmeans_assign", "x", x);
  check_matrix_arg("kmeans_assign", "centroids", centroids);
  COHORT_CHECK(centroids.cols == x.cols, "kmeans_assign: centroids have {} columns, x has {}", centroids.cols, x.cols);
  check_k_offsets_arg("kmeans_assign", k_offsets, num_problems, centroids.rows);
  COHORT_CHECK((x_sq_norms != nullptr && labels != nullptr && best_dist != nullptr) || x.rows == 0,
               "kmeans_assign: x_sq_norms, labels and best_dist must not be null");
}

// total_k is read from k_offsets[num_problems].
inline void check_kmeans_accumulate_args(MatrixView<const float> x, const int32_t* labels, const int64_t* k_offsets,
                                         int num_problems, const double* sums, const double* counts) {
  check_matrix_arg("kmeans_accumulate", "x", x);
  COHORT_CHECK(num_problems >= 1 && k_offsets != nullptr,
               "kmeans_accumulate: needs k_offsets for num_problems >= 1 (got {})", num_problems);
  check_k_offsets_arg("kmeans_accumulate", k_offsets, num_problems, k_offsets[num_problems]);
  COHORT_CHECK((labels != nullptr && sums != nullptr && counts != nullptr) || x.rows == 0,
               "kmeans_accumulate: labels, sums and counts must not be null");
}

inline void check_kmeans_finalize_args(const double* sums, const double* counts, MatrixView<const float> centroids) {
  COHORT_CHECK(centroids.rows >= 0 && centroids.cols >= 0 && centroids.ld >= centroids.cols,
               "kmeans_finalize: centroids have shape {} x {} with ld {}", centroids.rows, centroids.cols,
               centroids.ld);
  COHORT_CHECK((sums != nullptr && counts != nullptr && centroids.data != nullptr) || centroids.rows == 0 ||
                   centroids.cols == 0,
               "kmeans_finalize: sums, counts and centroids must not be null");
}

inline void check_sum_per_problem_args(const float* values, int64_t n, int num_problems, const double* out_host) {
  COHORT_CHECK(n >= 0 && num_problems >= 0, "sum_per_problem: n = {}, num_problems = {}", n, num_problems);
  COHORT_CHECK((out_host != nullptr && (values != nullptr || n == 0)) || num_problems == 0,
               "sum_per_problem: values or out is null");
}

inline void check_kmeans_plus_plus_args(MatrixView<const float> x, const float* x_sq_norms, int k,
                                        MatrixView<const float> centroids) {
  check_matrix_arg("kmeans_plus_plus", "x", x);
  COHORT_CHECK(k >= 1, "kmeans_plus_plus: k must be >= 1, got {}", k);
  COHORT_CHECK(k <= x.rows, "kmeans_plus_plus: k = {} exceeds the {} rows of x", k, x.rows);
  COHORT_CHECK(x_sq_norms != nullptr, "kmeans_plus_plus: x_sq_norms is null");
  COHORT_CHECK(centroids.rows == k && centroids.cols == x.cols && centroids.ld >= centroids.cols &&
                   centroids.data != nullptr,
               "kmeans_plus_plus: centroids are {} x {}, expected {} x {}", centroids.rows, centroids.cols, k, x.cols);
}

// ---- scoring ----

inline void check_score_topk_args(const ScoreTerms& terms, int64_t rows, int64_t items, const CsrView& exclude, int k,
                                  const int32_t* out_index, const float* out_score) {
  const bool has_dot = terms.user_factors.data != nullptr;
  const bool has_dots = terms.dots.data != nullptr;
  const bool has_group = terms.group_scores.data != nullptr;
  COHORT_CHECK(rows >= 0 && items >= 0 && k >= 0, "score_topk: rows = {}, items = {}, k = {}", rows, items, k);
  COHORT_CHECK(has_dot || has_dots || has_group, "score_topk: neither user factors, dots nor group scores were given");
  COHORT_CHECK(!(has_dot && has_dots), "score_topk: give user factors or precomputed dots, not both");
  if (has_dots) {
    const auto& d = terms.dots;
    COHORT_CHECK(d.rows == rows && d.cols == items && d.ld == items,
                 "score_topk: dots are {} x {} (ld {}), expected {} users x {} items, contiguous", d.rows, d.cols, d.ld,
                 rows, items);
  }
  if (has_dot) {
    const auto& u = terms.user_factors;
    const auto& v = terms.item_factors;
    COHORT_CHECK(v.data != nullptr, "score_topk: user factors given without item factors");
    COHORT_CHECK(u.rows == rows && v.rows == items && u.cols == v.cols,
                 "score_topk: user factors {} x {} and item factors {} x {} do not fit {} users x {} items", u.rows,
                 u.cols, v.rows, v.cols, rows, items);
  }
  if (has_group) {
    const auto& g = terms.group_scores;
    COHORT_CHECK(g.cols == items && g.ld >= g.cols, "score_topk: group scores are {} x {}, expected {} items", g.rows,
                 g.cols, items);
    COHORT_CHECK(terms.user_group != nullptr || rows == 0, "score_topk: group scores given without user_group");
  }
  check_exclude_arg("score_topk", exclude, rows, items);
  if (rows == 0 || k == 0) return;
  COHORT_CHECK(out_index != nullptr && out_score != nullptr, "score_topk: output arrays are null");
  COHORT_CHECK(items <= INT32_MAX, "score_topk: {} items exceed the int32 index range", items);
}

inline void check_knn_score_topk_args(const CsrView& user_items, const int32_t* neighbour_index,
                                      const float* neighbour_score, int neighbours, int64_t items,
                                      const CsrView& exclude, int k, const int32_t* out_index,
                                      const float* out_score) {
  COHORT_CHECK(user_items.rows >= 0 && items >= 0 && k >= 0 && neighbours >= 0,
               "knn_score_topk: rows = {}, items = {}, neighbours = {}, k = {}", user_items.rows, items, neighbours,
               k);
  COHORT_CHECK(user_items.cols == items, "knn_score_topk: user_items has {} columns for {} items", user_items.cols,
               items);
  check_csr_arg("knn_score_topk", "user_items", user_items);
  COHORT_CHECK((neighbour_index != nullptr && neighbour_score != nullptr) || neighbours == 0 || items == 0,
               "knn_score_topk: neighbour lists are null");
  COHORT_CHECK(items <= INT32_MAX, "knn_score_topk: {} items exceed the int32 index range", items);
  check_exclude_arg("knn_score_topk", exclude, user_items.rows, items);
  COHORT_CHECK((out_index != nullptr && out_score != nullptr) || user_items.rows == 0 || k == 0,
               "knn_score_topk: output arrays are null");
}

}  // namespace cohort
