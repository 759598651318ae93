// Dense helpers of the CPU backend: GEMM through OpenBLAS, row norms.
#include <cblas.h>
#include <omp.h>

#include <climits>
#include <cmath>

#include "kernels/backend_checks.hpp"
#include "kernels/cpu/cpu_ops.hpp"
#include "kernels/cpu/gemm.hpp"
#include "kernels/error.hpp"

// OpenBLAS here is the pthread build: it keeps its own thread pool, sized independently of
// OpenMP, so the backend's thread count is handed to it before every call.
extern "C" void openblas_set_num_threads(int num_threads);

namespace cohort::cpu {
namespace {

// Row loops over fewer elements than this stay on the calling thread: a thread team woken
// for them costs more than it saves, and its idle threads spin beside the next BLAS call.
constexpr int64_t kParallelElements = int64_t{1} << 22;
// A GEMM below this many multiply-adds (about a millisecond on one core) runs on one BLAS
// thread: OpenBLAS's woken threads spin with sched_yield after the call and take the cores
// from the OpenMP loops around it (a k = 64 k-means on 1,800 rows: 130 ms -> 25 ms).
constexpr int64_t kParallelGemmWork = int64_t{1} << 24;

// cblas takes int sizes.
void check_blas_range(const char* what, MatrixView<const float> m) {
  COHORT_CHECK(m.rows <= INT_MAX && m.cols <= INT_MAX && m.ld <= INT_MAX,
               "gemm_nt: {} ({} x {}, ld {}) exceeds the BLAS integer range", what, m.rows, m.cols, m.ld);
}

}  // namespace

void gemm_nt(float alpha, MatrixView<const float> a, MatrixView<const float> b, float beta, MatrixView<float> c) {
  gemm_nt_on(omp_get_max_threads(), alpha, a, b, beta, c);
}

void gemm_nt_on(int threads, float alpha, MatrixView<const float> a, MatrixView<const float> b, float beta,
                MatrixView<float> c) {
  check_gemm_nt_args(a, b, c);
  check_blas_range("a", a);
  check_blas_range("b", b);
  check_blas_range("c", c);
  if (c.rows == 0 || c.cols == 0) return;
  if (a.cols == 0) {
    // An empty inner dimension leaves c = beta * c; beta == 0 overwrites, as BLAS does.
    for (int64_t i = 0; i < c.rows; ++i) {
      float* row = c.row(i);
      for (int64_t j = 0; j < c.cols; ++j) row[j] = beta == 0.0f ? 0.0f : beta * row[j];
    }
    return;
  }
  const int64_t work = c.rows * c.cols * a.cols;
  openblas_set_num_threads(work < kParallelGemmWork ? 1 : threads);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(a.rows), static_cast<int>(b.rows),
              static_cast<int>(a.cols), alpha, a.data, static_cast<int>(a.ld), b.data, static_cast<int>(b.ld), beta,
              c.data, static_cast<int>(c.ld));
}

void row_sq_norms(MatrixView<const float> x, float* out) {
  check_row_sq_norms_args(x, out);
  if (x.rows == 0) return;
#pragma omp parallel for schedule(static) if (x.rows * x.cols >= kParallelElements)
  for (int64_t i = 0; i < x.rows; ++i) {
    const float* row = x.row(i);
    double sum = 0.0;
    for (int64_t j = 0; j < x.cols; ++j) sum += static_cast<double>(row[j]) * row[j];
    out[i] = static_cast<float>(sum);
  }
}

void normalize_rows(MatrixView<float> x) {
  check_normalize_rows_args(x);
  if (x.rows == 0 || x.cols == 0) return;
#pragma omp parallel for schedule(static) if (x.rows * x.cols >= kParallelElements)
  for (int64_t i = 0; i < x.rows; ++i) {
    float* row = x.row(i);
    double sum = 0.0;
    for (int64_t j = 0; j < x.cols; ++j) sum += static_cast<double>(row[j]) * row[j];
    if (sum > 0.0) {
      double inv = 1.0 / std::sqrt(sum);
      for (int64_t j = 0; j < x.cols; ++j) row[j] = static_cast<float>(row[j] * inv);
    }
  }
}

}  // namespace cohort::cpu
