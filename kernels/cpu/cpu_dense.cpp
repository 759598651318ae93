// Dense helpers of the CPU backend: GEMM through OpenBLAS, row norms.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <climits>
#include <cmath>

#include "kernels/backend_checks.hpp"
#include "kernels/cpu/cpu_ops.hpp"
#include "kernels/cpu/gemm.hpp"
#include "kernels/error.hpp"

// OpenBLAS here is the pthread build, with its own thread pool. Two pools on the same cores
// fight (gemm.hpp), so OpenBLAS is kept to one thread and GEMMs are split across OpenMP's.
extern "C" void openblas_set_num_threads(int num_threads);

namespace cohort::cpu {
namespace {

// Row loops over fewer elements than this stay on the calling thread: a thread team woken
// for them costs more than it saves, and its idle threads spin beside the next BLAS call.
constexpr int64_t kParallelElements = int64_t{1} << 22;
// A GEMM below this many multiply-adds (about a millisecond on one core) stays on the
// calling thread.
constexpr int64_t kParallelGemmWork = int64_t{1} << 24;
// Blocks of c split across threads are multiples of this many rows or columns.
constexpr int64_t kGemmBlockAlign = 16;

void sgemm_nt(float alpha, MatrixView<const float> a, MatrixView<const float> b, float beta, MatrixView<float> c) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(a.rows), static_cast<int>(b.rows),
              static_cast<int>(a.cols), alpha, a.data, static_cast<int>(a.ld), b.data, static_cast<int>(b.ld), beta,
              c.data, static_cast<int>(c.ld));
}

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
  // OpenBLAS stays on one thread (a process-wide setting); the product is cut into one block
  // per OpenMP thread along the longer dimension of c instead.
  openblas_set_num_threads(1);
  const int64_t m = c.rows;
  const int64_t n = c.cols;
  const int64_t work = m * n * a.cols;
  const int64_t longer = std::max(m, n);
  const int64_t max_team = (longer + kGemmBlockAlign - 1) / kGemmBlockAlign;
  const int team = static_cast<int>(std::min<int64_t>(std::max(threads, 1), max_team));
  if (team <= 1 || work < kParallelGemmWork || omp_in_parallel()) {
    sgemm_nt(alpha, a, b, beta, c);
    return;
  }
  const int64_t step = ((longer + team - 1) / team + kGemmBlockAlign - 1) / kGemmBlockAlign * kGemmBlockAlign;
#pragma omp parallel for num_threads(team) schedule(static, 1)
  for (int t = 0; t < team; ++t) {
    const int64_t begin = std::min(longer, t * step);
    const int64_t end = std::min(longer, begin + step);
    if (begin == end) continue;
    if (m >= n)
      sgemm_nt(alpha, a.rows_range(begin, end), b, beta, MatrixView<float>{c.row(begin), end - begin, n, c.ld});
    else
      sgemm_nt(alpha, a, b.rows_range(begin, end), beta, MatrixView<float>{c.data + begin, m, end - begin, c.ld});
  }
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

void distances_from_dots(MatrixView<float> dots, const float* row_sq, const float* col_sq, int64_t self_offset) {
  check_distances_from_dots_args(dots, row_sq, col_sq);
#pragma omp parallel for schedule(static) if (dots.rows * dots.cols >= kParallelElements)
  for (int64_t r = 0; r < dots.rows; ++r) {
    float* row = dots.row(r);
    for (int64_t j = 0; j < dots.cols; ++j) row[j] = std::sqrt(std::max(row_sq[r] + col_sq[j] + row[j], 0.0f));
    const int64_t self = r + self_offset;
    if (self >= 0 && self < dots.cols) row[self] = 0.0f;
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
