// The CPU implementations of the Backend operations, one file per family. Each function has
// the contract of the Backend method of the same name (kernels/backend.hpp); all pointers are
// host memory. OpenMP-parallel over rows; deterministic for a seed and thread count.
#pragma once

#include "kernels/backend.hpp"

namespace cohort::cpu {

// cpu_dense.cpp
void gemm_nt(float alpha, MatrixView<const float> a, MatrixView<const float> b, float beta, MatrixView<float> c);
void row_sq_norms(MatrixView<const float> x, float* out);
void normalize_rows(MatrixView<float> x);
void distances_from_dots(MatrixView<float> dots, const float* row_sq, const float* col_sq, int64_t self_offset);

// cpu_similarity.cpp
void topk_cosine(CsrView a, CsrView a_t, int64_t row_begin, int64_t row_end, int k, bool exclude_self,
                 int32_t* out_index, float* out_score);

// cpu_als.cpp
void gram(MatrixView<const float> y, float* out);
void als_solve(CsrView rows, MatrixView<const float> y, const float* gram, float reg, AlsMode mode,
               SolverKind solver, int cg_steps, MatrixView<float> x);
double als_loss(CsrView rows, MatrixView<const float> x, MatrixView<const float> y, const float* gram, AlsMode mode);

// cpu_bpr.cpp
BprStats bpr_epoch(CsrView user_items, MatrixView<float> users, MatrixView<float> items, float learning_rate,
                   float reg, int64_t samples, uint64_t seed);

// cpu_kmeans.cpp
void kmeans_assign(MatrixView<const float> x, const float* x_sq_norms, MatrixView<const float> centroids,
                   const int64_t* k_offsets, int num_problems, int32_t* labels, float* best_dist, float* second_dist);
void kmeans_accumulate(MatrixView<const float> x, const int32_t* labels, const int64_t* k_offsets, int num_problems,
                       double* sums, double* counts);
void kmeans_finalize(const double* sums, const double* counts, MatrixView<float> centroids);
void sum_per_problem(const float* values, int64_t n, int num_problems, double* out);
void kmeans_plus_plus(MatrixView<const float> x, const float* x_sq_norms, int k, uint64_t seed,
                      MatrixView<float> centroids);

// cpu_scoring.cpp
void score_topk(const ScoreTerms& terms, int64_t rows, int64_t items, CsrView exclude, int k, int32_t* out_index,
                float* out_score);
void knn_score_topk(CsrView user_items, const int32_t* neighbour_index, const float* neighbour_score, int neighbours,
                    int64_t items, CsrView exclude, int k, int32_t* out_index, float* out_score);

}  // namespace cohort::cpu
