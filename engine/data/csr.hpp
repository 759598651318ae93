// Host-memory sparse and dense matrices, the engine's currency between phases.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/views.hpp"

namespace cohort {

// CSR in host memory; column indices sorted and unique within a row.
struct Csr {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<int64_t> indptr{0};  // rows + 1
  std::vector<int32_t> indices;
  std::vector<float> values;       // same length as indices

  int64_t nnz() const { return static_cast<int64_t>(indices.size()); }
  int64_t row_length(int64_t r) const { return indptr[r + 1] - indptr[r]; }
  CsrView view() const { return {rows, cols, nnz(), indptr.data(), indices.data(), values.data()}; }

  // rows x cols with no entries.
  static Csr empty(int64_t rows, int64_t cols);
  // From (row, col, value) triplets in any order; duplicates are summed.
  static Csr from_triplets(int64_t rows, int64_t cols, const std::vector<int32_t>& row,
                           const std::vector<int32_t>& col, const std::vector<float>& value);
  Csr transpose() const;
  // The same matrix with every value replaced by f(value).
  template <class F>
  Csr map_values(F f) const {
    Csr out = *this;
    for (auto& v : out.values) v = f(v);
    return out;
  }
};

// Dense row-major matrix in host memory.
struct Matrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> data;

  Matrix() = default;
  Matrix(int64_t r, int64_t c) : rows(r), cols(c), data(static_cast<size_t>(r * c), 0.0f) {}
  float* row(int64_t i) { return data.data() + i * cols; }
  const float* row(int64_t i) const { return data.data() + i * cols; }
  MatrixView<float> view() { return {data.data(), rows, cols, cols}; }
  MatrixView<const float> view() const { return {data.data(), rows, cols, cols}; }
};

}  // namespace cohort
