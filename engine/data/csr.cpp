#include "engine/data/csr.hpp"

#include <algorithm>
#include <numeric>

#include "kernels/error.hpp"

namespace cohort {

Csr Csr::empty(int64_t rows, int64_t cols) {
  Csr m;
  m.rows = rows;
  m.cols = cols;
  m.indptr.assign(static_cast<size_t>(rows + 1), 0);
  return m;
}

Csr Csr::from_triplets(int64_t rows, int64_t cols, const std::vector<int32_t>& row,
                       const std::vector<int32_t>& col, const std::vector<float>& value) {
  COHORT_CHECK(row.size() == col.size() && row.size() == value.size(),
               "Csr::from_triplets: {} rows, {} cols, {} values", row.size(), col.size(), value.size());
  Csr m = empty(rows, cols);
  for (size_t e = 0; e < row.size(); ++e) {
    COHORT_CHECK(row[e] >= 0 && row[e] < rows && col[e] >= 0 && col[e] < cols,
                 "Csr::from_triplets: entry ({}, {}) outside {} x {}", row[e], col[e], rows, cols);
    ++m.indptr[static_cast<size_t>(row[e]) + 1];
  }
  std::partial_sum(m.indptr.begin(), m.indptr.end(), m.indptr.begin());
  std::vector<int64_t> next(m.indptr.begin(), m.indptr.end() - 1);
  std::vector<int32_t> idx(row.size());
  std::vector<float> val(row.size());
  for (size_t e = 0; e < row.size(); ++e) {
    int64_t at = next[static_cast<size_t>(row[e])]++;
    idx[static_cast<size_t>(at)] = col[e];
    val[static_cast<size_t>(at)] = value[e];
  }
  // Sort each row by column and sum duplicates.
  m.indices.reserve(idx.size());
  m.values.reserve(val.size());
  std::vector<std::pair<int32_t, float>> buf;
  int64_t write_begin = 0;
  for (int64_t r = 0; r < rows; ++r) {
    buf.clear();
    for (int64_t p = m.indptr[r]; p < m.indptr[r + 1]; ++p) buf.emplace_back(idx[p], val[p]);
    std::stable_sort(buf.begin(), buf.end(), [](auto& a, auto& b) { return a.first < b.first; });
    for (size_t q = 0; q < buf.size(); ++q) {
      if (q > 0 && buf[q].first == buf[q - 1].first) {
        m.values.back() += buf[q].second;
      } else {
        m.indices.push_back(buf[q].first);
        m.values.push_back(buf[q].second);
      }
    }
    m.indptr[r] = write_begin;
    write_begin = static_cast<int64_t>(m.indices.size());
  }
  m.indptr[rows] = write_begin;
  return m;
}

Csr Csr::transpose() const {
  Csr t = empty(cols, rows);
  for (int32_t c : indices) ++t.indptr[static_cast<size_t>(c) + 1];
  std::partial_sum(t.indptr.begin(), t.indptr.end(), t.indptr.begin());
  t.indices.resize(indices.size());
  t.values.resize(values.size());
  std::vector<int64_t> next(t.indptr.begin(), t.indptr.end() - 1);
  // Rows are visited in order, so each column's entries come out sorted by row.
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t p = indptr[r]; p < indptr[r + 1]; ++p) {
      int64_t at = next[static_cast<size_t>(indices[p])]++;
      t.indices[at] = static_cast<int32_t>(r);
      t.values[at] = values[p];
    }
  }
  return t;
}

}  // namespace cohort
