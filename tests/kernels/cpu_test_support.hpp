// Helpers shared by the CPU kernel tests: host CSR matrices, their copies in a Backend's
// memory, and seeded random inputs.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/backend.hpp"
#include "kernels/buffer.hpp"

namespace cohort::test {

struct HostCsr {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<int64_t> indptr{0};
  std::vector<int32_t> indices;
  std::vector<float> values;  // empty: every value is 1

  // Appends a row; its columns must be ascending and unique.
  void add_row(const std::vector<int32_t>& cols_of_row, const std::vector<float>& vals = {}) {
    indices.insert(indices.end(), cols_of_row.begin(), cols_of_row.end());
    values.insert(values.end(), vals.begin(), vals.end());
    indptr.push_back(static_cast<int64_t>(indices.size()));
    ++rows;
  }
  float value(int64_t p) const { return values.empty() ? 1.0f : values[p]; }
  // This matrix in host memory as a view (for code that reads it in place: the CPU emulation
  // of the CUDA kernels).
  CsrView host_view() const {
    return CsrView{rows, cols, static_cast<int64_t>(indices.size()), indptr.data(), indices.data(),
                   values.empty() ? nullptr : values.data()};
  }

  HostCsr transpose() const {
    HostCsr t;
    t.cols = rows;
    std::vector<std::vector<int32_t>> idx(static_cast<std::size_t>(cols));
    std::vector<std::vector<float>> val(static_cast<std::size_t>(cols));
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t p = indptr[r]; p < indptr[r + 1]; ++p) {
        idx[indices[p]].push_back(static_cast<int32_t>(r));
        val[indices[p]].push_back(value(p));
      }
    }
    for (int64_t c = 0; c < cols; ++c) t.add_row(idx[c], values.empty() ? std::vector<float>{} : val[c]);
    return t;
  }

  std::vector<double> dense() const {
    std::vector<double> d(static_cast<std::size_t>(rows * cols), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t p = indptr[r]; p < indptr[r + 1]; ++p) d[r * cols + indices[p]] = value(p);
    }
    return d;
  }
};

// A CSR matrix in a Backend's memory.
struct BackendCsr {
  Buffer<int64_t> indptr;
  Buffer<int32_t> indices;
  Buffer<float> values;
  CsrView view;

  BackendCsr(Backend& backend, const HostCsr& h)
      : indptr(backend, h.indptr), indices(backend, h.indices), values(backend, h.values) {
    view.rows = h.rows;
    view.cols = h.cols;
    view.nnz = static_cast<int64_t>(h.indices.size());
    view.indptr = indptr.data();
    view.indices = indices.data();
    view.values = h.values.empty() ? nullptr : values.data();
  }
};

// Each entry present with probability density; values drawn from `levels` (empty: no values).
inline HostCsr random_csr(std::mt19937_64& rng, int64_t rows, int64_t cols, double density,
                          const std::vector<float>& levels) {
  HostCsr m;
  m.cols = cols;
  std::bernoulli_distribution keep(density);
  std::uniform_int_distribution<std::size_t> level(0, levels.empty() ? 0 : levels.size() - 1);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<int32_t> c;
    std::vector<float> v;
    for (int64_t j = 0; j < cols; ++j) {
      if (!keep(rng)) continue;
      c.push_back(static_cast<int32_t>(j));
      if (!levels.empty()) v.push_back(levels[level(rng)]);
    }
    m.add_row(c, v);
  }
  return m;
}

// Values in {-range, ..., range} / 4: sums and products of a few are exact in float.
inline std::vector<float> random_dyadic(std::mt19937_64& rng, std::size_t n, int range) {
  std::uniform_int_distribution<int> pick(-range, range);
  std::vector<float> v(n);
  for (auto& e : v) e = static_cast<float>(pick(rng)) / 4.0f;
  return v;
}

inline std::vector<float> random_uniform(std::mt19937_64& rng, int64_t n, float lo, float hi) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (float& e : v) e = u(rng);
  return v;
}

inline std::vector<float> random_normal(std::mt19937_64& rng, std::size_t n) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& e : v) e = normal(rng);
  return v;
}

// The reference top-k: a full sort by (score descending, index ascending), padded with -1 / 0.
inline void brute_topk(std::vector<std::pair<float, int32_t>> cand, int k, int32_t* index, float* score) {
  std::sort(cand.begin(), cand.end(), [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  });
  for (int r = 0; r < k; ++r) {
    const bool have = r < static_cast<int>(cand.size());
    index[r] = have ? cand[r].second : -1;
    score[r] = have ? cand[r].first : 0.0f;
  }
}

}  // namespace cohort::test
