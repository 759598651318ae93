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

Csr row_range(const Csr& m, int64_t begin, int64_t end) {
  COHORT_CHECK(0 <= begin && begin <= end && end <= m.rows, "row_range: [{}, {}) is not a range of rows of 0..{}", begin,
               end, m.rows);
  Csr out;
  out.rows = end - begin;
  out.cols = m.cols;
  const int64_t first = m.indptr[static_cast<size_t>(begin)];
  const int64_t last = m.indptr[static_cast<size_t>(end)];
  out.indptr.assign(m.indptr.begin() + begin, m.indptr.begin() + end + 1);
  for (int64_t& p : out.indptr) p -= first;
  out.indices.assign(m.indices.begin() + first, m.indices.begin() + last);
  out.values.assign(m.values.begin() + first, m.values.begin() + last);
  return out;
}

Matrix row_range(const Matrix& m, int64_t begin, int64_t end) {
  COHORT_CHECK(0 <= begin && begin <= end && end <= m.rows, "row_range: [{}, {}) is not a range of rows of 0..{}", begin,
               end, m.rows);
  Matrix out(end - begin, m.cols);
  std::copy(m.data.begin() + begin * m.cols, m.data.begin() + end * m.cols, out.data.begin());
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
