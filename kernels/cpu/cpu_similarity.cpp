// Sparse top-k cosine neighbours of CSR rows.
//
// For row i, <a_i, a_j> is non-zero only for rows j that share a column with i, and those
// are found through the transpose: for each column c of a_i, the rows of a_t(c). The
// products are accumulated in a dense per-thread array of a.rows entries; a list of the
// entries touched makes both the scan and the reset proportional to the work done.
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/backend_checks.hpp"
#include "kernels/cpu/cpu_ops.hpp"
#include "kernels/cpu/csr_checks.hpp"
#include "kernels/cpu/topk.hpp"
#include "kernels/error.hpp"

namespace cohort::cpu {

// The products are summed in float, as the values arrive in float: the accumulator array of
// one thread is then half the size (50,000 rows: 200 KB, in L2), and the scatter loop carries
// no bounds checks because check_csr validated every index up front.
void topk_cosine(CsrView a, CsrView a_t, int64_t row_begin, int64_t row_end, int k, bool exclude_self,
                 int32_t* out_index, float* out_score) {
  check_topk_cosine_args(a, a_t, row_begin, row_end, k, out_index, out_score);
  check_csr(a, "topk_cosine: a");
  check_csr(a_t, "topk_cosine: a_t");
  const int64_t out_rows = row_end - row_begin;
  if (out_rows == 0 || k == 0) return;

  // 1 / norm of every row of a (any row can be a neighbour); 0 for an empty row.
  std::vector<float> inv_norm(static_cast<std::size_t>(a.rows));
#pragma omp parallel for schedule(static)
  for (int64_t j = 0; j < a.rows; ++j) {
    double s = 0.0;
    for (int64_t p = a.indptr[j]; p < a.indptr[j + 1]; ++p) {
      const double v = a.values != nullptr ? a.values[p] : 1.0;
      s += v * v;
    }
    inv_norm[j] = s > 0.0 ? static_cast<float>(1.0 / std::sqrt(s)) : 0.0f;
  }

#pragma omp parallel
  {
    // touched lists each accumulator entry once, marked by `seen`; both appends are
    // branch-free, because whether j is new is a coin flip the predictor cannot learn.
    std::vector<float> acc(static_cast<std::size_t>(a.rows), 0.0f);
    std::vector<uint8_t> seen(static_cast<std::size_t>(a.rows), 0);
    std::vector<int32_t> touched(static_cast<std::size_t>(a.rows) + 1);
    TopKSelector top(k);
#pragma omp for schedule(dynamic, 16)
    for (int64_t r = 0; r < out_rows; ++r) {
      const int64_t i = row_begin + r;
      int64_t n_touched = 0;
      for (int64_t p = a.indptr[i]; p < a.indptr[i + 1]; ++p) {
        const int32_t c = a.indices[p];
        const float v = a.values != nullptr ? a.values[p] : 1.0f;
        const int64_t q_end = a_t.indptr[c + 1];
        for (int64_t q = a_t.indptr[c]; q < q_end; ++q) {
          const int32_t j = a_t.indices[q];
          touched[n_touched] = j;
          n_touched += 1 - seen[j];
          seen[j] = 1;
          acc[j] += v * (a_t.values != nullptr ? a_t.values[q] : 1.0f);
        }
      }
      const float inv_i = inv_norm[i];
      for (int64_t t = 0; t < n_touched; ++t) {
        const int32_t j = touched[t];
        const float score = acc[j] * inv_i * inv_norm[j];
        acc[j] = 0.0f;
        seen[j] = 0;
        if (score > 0.0f && !(exclude_self && j == i)) top.push(j, score);
      }
      top.write(out_index + r * k, out_score + r * k);
    }
  }
}

}  // namespace cohort::cpu
