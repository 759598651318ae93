// Structural checks of a CsrView before a CPU kernel walks it, so that a malformed matrix
// fails with a message instead of reading out of bounds. O(rows + nnz), serial.
#pragma once

#include <cstdint>

#include "kernels/error.hpp"
#include "kernels/views.hpp"

namespace cohort::cpu {

// indptr starts at 0, never decreases and ends at nnz; indices are in [0, cols) and strictly
// increasing within a row (sorted and unique, as views.hpp promises). `where` names the caller.
inline void check_csr(const CsrView& m, const char* where) {
  COHORT_CHECK(m.rows >= 0 && m.cols >= 0 && m.nnz >= 0, "{}: bad CSR shape {} x {} with {} entries", where,
               m.rows, m.cols, m.nnz);
  COHORT_CHECK(m.indptr != nullptr || (m.rows == 0 && m.nnz == 0), "{}: CSR indptr is null", where);
  if (m.indptr == nullptr) return;
  COHORT_CHECK(m.indptr[0] == 0 && m.indptr[m.rows] == m.nnz, "{}: CSR indptr runs {}..{}, expected 0..{}", where,
               m.indptr[0], m.indptr[m.rows], m.nnz);
  COHORT_CHECK(m.nnz == 0 || m.indices != nullptr, "{}: CSR indices are null with {} entries", where, m.nnz);
  for (int64_t r = 0; r < m.rows; ++r) {
    const int64_t begin = m.indptr[r];
    const int64_t end = m.indptr[r + 1];
    COHORT_CHECK(begin <= end, "{}: CSR indptr decreases at row {}", where, r);
    int64_t previous = -1;
    for (int64_t k = begin; k < end; ++k) {
      const int64_t c = m.indices[k];
      COHORT_CHECK(c > previous && c < m.cols, "{}: CSR row {} has column {} (cols = {}, previous {})", where, r, c,
                   m.cols, previous);
      previous = c;
    }
  }
}

}  // namespace cohort::cpu
