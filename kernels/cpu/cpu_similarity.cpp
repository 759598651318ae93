// Sparse top-k cosine neighbours of CSR rows.
//
// For row i, <a_i, a_j> is non-zero only for rows j that share a column with i, and those
// are found through the transpose: for each column c of a_i, the rows of a_t(c). The
// products are accumulated in a dense per-thread array of a.rows entries; a list of the
// entries touched makes both the scan and the reset proportional to the work done.
#include <omp.h>

#include <cmath>
#include <vector>

#include "kernels/backend_checks.hpp"
#include "kernels/cpu/cpu_ops.hpp"
#include "kernels/cpu/topk.hpp"
#include "kernels/error.hpp"

namespace cohort::cpu {
namespace {

// The kernel walks indptr in host memory: it must span exactly the stored entries.
void check_indptr_span(const char* what, const CsrView& m) {
  if (m.rows > 0) {
    COHORT_CHECK(m.indptr[0] == 0 && m.indptr[m.rows] == m.nnz,
                 "topk_cosine: {} indptr spans [{}, {}], expected [0, {}]", what, m.indptr[0], m.indptr[m.rows],
                 m.nnz);
  }
}

float value_at(const CsrView& m, int64_t p) { return m.values != nullptr ? m.values[p] : 1.0f; }

}  // namespace

void topk_cosine(CsrView a, CsrView a_t, int64_t row_begin, int64_t row_end, int k, bool exclude_self,
                 int32_t* out_index, float* out_score) {
  check_topk_cosine_args(a, a_t, row_begin, row_end, k, out_index, out_score);
  check_indptr_span("a", a);
  check_indptr_span("a_t", a_t);
  const int64_t out_rows = row_end - row_begin;
  if (out_rows == 0 || k == 0) return;

  // Norms of every row of a: any row can be a neighbour.
  std::vector<double> norm(static_cast<std::size_t>(a.rows));
#pragma omp parallel for schedule(static)
  for (int64_t j = 0; j < a.rows; ++j) {
    double s = 0.0;
    for (int64_t p = a.indptr[j]; p < a.indptr[j + 1]; ++p) {
      double v = value_at(a, p);
      s += v * v;
    }
    norm[j] = std::sqrt(s);
  }

  bool bad_index = false;
#pragma omp parallel
  {
    std::vector<double> acc(static_cast<std::size_t>(a.rows), 0.0);
    std::vector<int32_t> touched;
    TopKSelector top(k);
#pragma omp for schedule(dynamic, 16) reduction(||: bad_index)
    for (int64_t r = 0; r < out_rows; ++r) {
      const int64_t i = row_begin + r;
      for (int64_t p = a.indptr[i]; p < a.indptr[i + 1]; ++p) {
        const int32_t c = a.indices[p];
        if (c < 0 || c >= a.cols) {
          bad_index = true;
          continue;
        }
        const double v = value_at(a, p);
        for (int64_t q = a_t.indptr[c]; q < a_t.indptr[c + 1]; ++q) {
          const int32_t j = a_t.indices[q];
          if (j < 0 || j >= a.rows) {
            bad_index = true;
            continue;
          }
          if (acc[j] == 0.0) touched.push_back(j);
          acc[j] += v * value_at(a_t, q);
        }
      }
      // An entry whose running sum returned to exactly zero may be listed twice; the second
      // visit sees it already reset and skips it.
      for (int32_t j : touched) {
        const double dot = acc[j];
        if (dot == 0.0) continue;
        acc[j] = 0.0;
        if (exclude_self && j == i) continue;
        const float score = static_cast<float>(dot / (norm[i] * norm[j]));
        if (score > 0.0f) top.push(j, score);
      }
      touched.clear();
      top.write(out_index + r * k, out_score + r * k);
    }
  }
  COHORT_CHECK_STATUS(!bad_index, Status::bad_input, "topk_cosine: a column index of a or a_t is out of range");
}

}  // namespace cohort::cpu
