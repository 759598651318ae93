// Host-side matrices for the embedding-training kernel tests: random CSR matrices, the
// two-block checkerboard, and their copies in a Backend's memory.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/backend.hpp"
#include "kernels/buffer.hpp"

namespace cohort::testing {

struct HostCsr {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<int64_t> indptr{0};
  std::vector<int32_t> indices;
  std::vector<float> values;

  int64_t nnz() const { return static_cast<int64_t>(indices.size()); }
  void add(int32_t col, float value) {
    indices.push_back(col);
    values.push_back(value);
  }
  void end_row() {
    indptr.push_back(nnz());
    ++rows;
  }
};

// Each entry present with probability `density`; values uniform in [low, high).
inline HostCsr random_csr(int64_t rows, int64_t cols, double density, float low, float high, std::mt19937_64& rng) {
  std::bernoulli_distribution present(density);
  std::uniform_real_distribution<float> value(low, high);
  HostCsr m;
  m.cols = cols;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      if (present(rng)) m.add(static_cast<int32_t>(c), value(rng));
    }
    m.end_row();
  }
  return m;
}

inline HostCsr transpose(const HostCsr& m) {
  HostCsr t;
  t.cols = m.rows;
  std::vector<std::vector<std::pair<int32_t, float>>> by_col(static_cast<std::size_t>(m.cols));
  for (int64_t r = 0; r < m.rows; ++r) {
    for (int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) {
      by_col[m.indices[k]].push_back({static_cast<int32_t>(r), m.values[k]});
    }
  }
  for (const auto& col : by_col) {
    for (const auto& [r, v] : col) t.add(r, v);
    t.end_row();
  }
  return t;
}

// Two blocks of `users_per_block` users and `items_per_block` items; a user likes every item
// of its own block except one held out (item heldout_item(u)). Values are `value`.
struct Checkerboard {
  int64_t users_per_block = 20;
  int64_t items_per_block = 10;

  int64_t users() const { return 2 * users_per_block; }
  int64_t items() const { return 2 * items_per_block; }
  int64_t block_of_user(int64_t u) const { return u / users_per_block; }
  int64_t block_of_item(int64_t i) const { return i / items_per_block; }
  int64_t heldout_item(int64_t u) const { return block_of_user(u) * items_per_block + u % items_per_block; }

  HostCsr matrix(float value) const {
    HostCsr m;
    m.cols = items();
    for (int64_t u = 0; u < users(); ++u) {
      const int64_t first = block_of_user(u) * items_per_block;
      for (int64_t i = first; i < first + items_per_block; ++i) {
        if (i != heldout_item(u)) m.add(static_cast<int32_t>(i), value);
      }
      m.end_row();
    }
    return m;
  }
};

// A HostCsr copied into a Backend's memory.
struct BackendCsr {
  BackendCsr(Backend& backend, const HostCsr& m)
      : rows(m.rows), cols(m.cols), indptr(backend, m.indptr), indices(backend, m.indices), values(backend, m.values) {}

  CsrView view(bool with_values = true) const {
    return {rows, cols, indices.size(), indptr.data(), indices.data(), with_values ? values.data() : nullptr};
  }

  int64_t rows;
  int64_t cols;
  Buffer<int64_t> indptr;
  Buffer<int32_t> indices;
  Buffer<float> values;
};

inline std::vector<float> random_vector(int64_t n, float scale, std::mt19937_64& rng) {
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (float& x : v) x = normal(rng);
  return v;
}

}  // namespace cohort::testing
