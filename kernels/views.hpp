// Non-owning views over memory that a Backend allocated (host memory for the CPU backend,
// device memory for CUDA). Kernels take views; buffers own.
#pragma once

#include <cstdint>
#include <type_traits>

namespace cohort {

// Row-major matrix: element (i, j) at data[i * ld + j]; ld >= cols.
template <class T>
struct MatrixView {
  T* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t ld = 0;

  MatrixView() = default;
  MatrixView(T* d, int64_t r, int64_t c) : data(d), rows(r), cols(c), ld(c) {}
  MatrixView(T* d, int64_t r, int64_t c, int64_t l) : data(d), rows(r), cols(c), ld(l) {}
  // A mutable view converts to a read-only one.
  template <class U, class = std::enable_if_t<std::is_same_v<const U, T> && !std::is_same_v<U, T>>>
  MatrixView(const MatrixView<U>& o) : data(o.data), rows(o.rows), cols(o.cols), ld(o.ld) {}

  T* row(int64_t i) const { return data + i * ld; }
  bool empty() const { return data == nullptr || rows == 0; }
  // Rows [begin, end) of this matrix.
  MatrixView rows_range(int64_t begin, int64_t end) const { return {data + begin * ld, end - begin, cols, ld}; }
};

// Compressed sparse rows. Column indices within a row are sorted ascending and unique.
// values may be null, meaning every stored value is 1.
struct CsrView {
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t nnz = 0;
  const int64_t* indptr = nullptr;  // rows + 1
  const int32_t* indices = nullptr;  // nnz
  const float* values = nullptr;     // nnz, or null
};

}  // namespace cohort
