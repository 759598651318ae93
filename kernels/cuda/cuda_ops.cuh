// The CUDA implementations of the Backend operations, one file per family (launch_* host
// functions and their *_kernel kernels). Each has the contract of the Backend method of the
// same name (kernels/backend.hpp); pointers are device memory; work is queued on ctx.stream().
#pragma once

#include "kernels/backend.hpp"
#include "kernels/cuda/cuda_namespace.hpp"
#include "kernels/cuda/device_context.cuh"

COHORT_CUDA_NAMESPACE_BEGIN

// dense.cu
void gemm_nt(DeviceContext& ctx, float alpha, MatrixView<const float> a, MatrixView<const float> b, float beta,
             MatrixView<float> c);
void row_sq_norms(DeviceContext& ctx, MatrixView<const float> x, float* out);
void normalize_rows(DeviceContext& ctx, MatrixView<float> x);
void distances_from_dots(DeviceContext& ctx, MatrixView<float> dots, const float* row_sq, const float* col_sq,
                         int64_t self_offset);

// similarity.cu (custom kernel) and similarity_reference.cu (cuSPARSE SpGEMM + segmented sort)
void topk_cosine(DeviceContext& ctx, CsrView a, CsrView a_t, int64_t row_begin, int64_t row_end, int k,
                 bool exclude_self, int32_t* out_index, float* out_score);
void topk_cosine_reference(DeviceContext& ctx, CsrView a, CsrView a_t, int64_t row_begin, int64_t row_end, int k,
                           bool exclude_self, int32_t* out_index, float* out_score);
// Shared by both: the argument checks (check_topk_cosine_args of kernels/backend_checks.hpp
// plus the GPU limits), and the Euclidean norm of every row of a (a.rows floats).
void check_topk_cosine_gpu_args(CsrView a, CsrView a_t, int64_t row_begin, int64_t row_end, int k,
                                const int32_t* out_index, const float* out_score);
void topk_cosine_row_norms(DeviceContext& ctx, CsrView a, float* norm);

// als.cu
void gram(DeviceContext& ctx, MatrixView<const float> y, float* out);
void als_solve(DeviceContext& ctx, CsrView rows, MatrixView<const float> y, const float* gram, float reg, AlsMode mode,
               SolverKind solver, int cg_steps, MatrixView<float> x);
double als_loss(DeviceContext& ctx, CsrView rows, MatrixView<const float> x, MatrixView<const float> y,
                const float* gram, AlsMode mode);

// bpr.cu
BprStats bpr_epoch(DeviceContext& ctx, CsrView user_items, MatrixView<float> users, MatrixView<float> items,
                   float learning_rate, float reg, int64_t samples, uint64_t seed);

// kmeans.cu
// tf32: the distance GEMM on TF32 tensor cores, undecided pairs rechecked in FP32
// (kmeans_tf32_kernels.cuh).
void kmeans_assign(DeviceContext& ctx, MatrixView<const float> x, const float* x_sq_norms,
                   MatrixView<const float> centroids, const int64_t* k_offsets, int num_problems, int32_t* labels,
                   float* best_dist, float* second_dist, bool tf32);
void kmeans_accumulate(DeviceContext& ctx, MatrixView<const float> x, const int32_t* labels, const int64_t* k_offsets,
                       int num_problems, double* sums, double* counts);
void kmeans_finalize(DeviceContext& ctx, const double* sums, const double* counts, MatrixView<float> centroids);
void sum_per_problem(DeviceContext& ctx, const float* values, int64_t n, int num_problems, double* out_host);
void kmeans_plus_plus(DeviceContext& ctx, MatrixView<const float> x, const float* x_sq_norms, int k, uint64_t seed,
                      MatrixView<float> centroids);

// scoring.cu
void score_topk(DeviceContext& ctx, const ScoreTerms& terms, int64_t rows, int64_t items, CsrView exclude, int k,
                int32_t* out_index, float* out_score);
void knn_score_topk(DeviceContext& ctx, CsrView user_items, const int32_t* neighbour_index,
                    const float* neighbour_score, int neighbours, int64_t items, CsrView exclude, int k,
                    int32_t* out_index, float* out_score);

COHORT_CUDA_NAMESPACE_END
