#include "engine/data/rows.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/error.hpp"

namespace cohort {

Csr select_rows(const Csr& m, const std::vector<int32_t>& rows) {
  Csr out = Csr::empty(static_cast<int64_t>(rows.size()), m.cols);
  for (size_t r = 0; r < rows.size(); ++r) {
    COHORT_CHECK(rows[r] >= 0 && rows[r] < m.rows, "select_rows: row {} outside 0..{}", rows[r], m.rows - 1);
    out.indptr[r + 1] = out.indptr[r] + m.row_length(rows[r]);
  }
  out.indices.resize(static_cast<size_t>(out.indptr.back()));
  out.values.resize(static_cast<size_t>(out.indptr.back()));
  for (size_t r = 0; r < rows.size(); ++r) {
    const int64_t from = m.indptr[static_cast<size_t>(rows[r])];
    const int64_t len = m.row_length(rows[r]);
    std::copy_n(m.indices.begin() + from, len, out.indices.begin() + out.indptr[r]);
    std::copy_n(m.values.begin() + from, len, out.values.begin() + out.indptr[r]);
  }
  return out;
}

Matrix select_rows(const Matrix& m, const std::vector<int32_t>& rows) {
  Matrix out(static_cast<int64_t>(rows.size()), m.cols);
  for (size_t r = 0; r < rows.size(); ++r) {
    COHORT_CHECK(rows[r] >= 0 && rows[r] < m.rows, "select_rows: row {} outside 0..{}", rows[r], m.rows - 1);
    std::copy_n(m.row(rows[r]), m.cols, out.row(static_cast<int64_t>(r)));
  }
  return out;
}

Matrix normalized_rows(Matrix m) {
  for (int64_t i = 0; i < m.rows; ++i) {
    float* row = m.row(i);
    double sq = 0.0;
    for (int64_t j = 0; j < m.cols; ++j) sq += static_cast<double>(row[j]) * row[j];
    if (sq <= 0.0) continue;
    const float scale = static_cast<float>(1.0 / std::sqrt(sq));
    for (int64_t j = 0; j < m.cols; ++j) row[j] *= scale;
  }
  return m;
}

}  // namespace cohort
