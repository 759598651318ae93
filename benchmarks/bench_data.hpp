// Seeded random inputs shared by the benchmarks: interaction matrices shaped like the
// default data (popular items drawn more often) and dense factors.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/backend.hpp"
#include "kernels/buffer.hpp"

namespace cohort::bench {

struct HostCsr {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<int64_t> indptr;
  std::vector<int32_t> indices;
  std::vector<float> values;
};

// About `interactions` distinct (row, col) pairs; col = floor(cols * u^2) skews toward
// low indices the way item popularity does. Values are confidences in [1, 5].
inline HostCsr random_interactions(int64_t rows, int64_t cols, int64_t interactions, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<std::vector<int32_t>> by_row(static_cast<std::size_t>(rows));
  for (int64_t e = 0; e < interactions; ++e) {
    const double u = unit(rng);
    by_row[rng() % rows].push_back(static_cast<int32_t>(std::min<double>(cols - 1, std::floor(cols * u * u))));
  }
  HostCsr m;
  m.rows = rows;
  m.cols = cols;
  m.indptr.push_back(0);
  for (auto& r : by_row) {
    std::sort(r.begin(), r.end());
    r.erase(std::unique(r.begin(), r.end()), r.end());
    m.indices.insert(m.indices.end(), r.begin(), r.end());
    m.indptr.push_back(static_cast<int64_t>(m.indices.size()));
  }
  m.values.resize(m.indices.size());
  for (auto& v : m.values) v = static_cast<float>(1 + rng() % 5);
  return m;
}

inline HostCsr transpose(const HostCsr& a) {
  HostCsr t;
  t.rows = a.cols;
  t.cols = a.rows;
  t.indptr.assign(static_cast<std::size_t>(a.cols + 1), 0);
  for (int32_t c : a.indices) ++t.indptr[c + 1];
  for (int64_t c = 0; c < a.cols; ++c) t.indptr[c + 1] += t.indptr[c];
  t.indices.resize(a.indices.size());
  t.values.resize(a.indices.size());
  std::vector<int64_t> next(t.indptr.begin(), t.indptr.end() - 1);
  for (int64_t r = 0; r < a.rows; ++r) {
    for (int64_t p = a.indptr[r]; p < a.indptr[r + 1]; ++p) {
      const int64_t q = next[a.indices[p]]++;
      t.indices[q] = static_cast<int32_t>(r);
      t.values[q] = a.values[p];
    }
  }
  return t;
}

// A CSR matrix in a Backend's memory.
struct BackendCsr {
  Buffer<int64_t> indptr;
  Buffer<int32_t> indices;
  Buffer<float> values;
  CsrView view;

  BackendCsr(Backend& backend, const HostCsr& h)
      : indptr(backend, h.indptr), indices(backend, h.indices), values(backend, h.values) {
    view = {h.rows, h.cols, static_cast<int64_t>(h.indices.size()), indptr.data(), indices.data(), values.data()};
  }
};

inline std::vector<float> random_normal(std::size_t n, float scale, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (auto& e : v) e = normal(rng);
  return v;
}

}  // namespace cohort::bench
