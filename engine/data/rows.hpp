// Row selection and normalisation of host matrices.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/data/csr.hpp"

namespace cohort {

// The listed rows, in the listed order: rows.size() x m.cols.
Csr select_rows(const Csr& m, const std::vector<int32_t>& rows);
Matrix select_rows(const Matrix& m, const std::vector<int32_t>& rows);
// Rows [begin, end) of m: (end - begin) x m.cols, offsets rebased to 0.
Csr row_range(const Csr& m, int64_t begin, int64_t end);
Matrix row_range(const Matrix& m, int64_t begin, int64_t end);
// Each row scaled to unit Euclidean norm; all-zero rows stay zero.
Matrix normalized_rows(Matrix m);

}  // namespace cohort
