// What the emulated tests of the fused k-means assignment kernels share: random rows and
// centroids, the CPU backend's assignment as the reference, and the comparison that allows
// FP32 near-ties (tests/kernels/kmeans_*_emulated_test.cpp).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_backend.hpp"
#include "tests/kernels/cpu_test_support.hpp"

namespace cohort::test {

struct Assignment {
  std::vector<int32_t> labels;
  std::vector<float> best, second;
};

struct Data {
  int64_t n = 0;
  int d = 0;
  std::vector<float> x, x_sq, c, c_sq;
  std::vector<int64_t> offsets{0};
};

// Rows normal around `offset` in every coordinate (far from 0, |x| |c| grows against the gaps
// between distances), centroids rows of x.
inline Data make_data(std::mt19937_64& rng, int64_t n, int d, const std::vector<int64_t>& ks, float offset = 0.0f) {
  Data data;
  data.n = n;
  data.d = d;
  for (int64_t k : ks) data.offsets.push_back(data.offsets.back() + k);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  data.x.resize(static_cast<std::size_t>(n * d));
  for (float& v : data.x) v = offset + normal(rng);
  const int64_t total_k = data.offsets.back();
  data.c.resize(static_cast<std::size_t>(total_k * d));
  // Centroids are rows of x (the usual seeding), so distances of exactly zero occur.
  std::uniform_int_distribution<int64_t> pick(0, n - 1);
  for (int64_t c = 0; c < total_k; ++c) {
    const int64_t r = pick(rng);
    for (int j = 0; j < d; ++j) data.c[c * d + j] = data.x[r * d + j];
  }
  // Problem 1's centroid 1 duplicates its centroid 0: every row ties between them.
  if (ks.size() > 1 && ks[1] >= 2)
    for (int j = 0; j < d; ++j) data.c[(data.offsets[1] + 1) * d + j] = data.c[data.offsets[1] * d + j];
  auto sq = [&](const std::vector<float>& m, int64_t rows) {
    std::vector<float> out(static_cast<std::size_t>(rows));
    for (int64_t i = 0; i < rows; ++i) {
      double s = 0.0;
      for (int j = 0; j < d; ++j) s += static_cast<double>(m[i * d + j]) * m[i * d + j];
      out[i] = static_cast<float>(s);
    }
    return out;
  };
  data.x_sq = sq(data.x, n);
  data.c_sq = sq(data.c, total_k);
  return data;
}

inline Assignment cpu_assign(const Data& data) {
  auto cpu = make_cpu_backend(1);
  const int problems = static_cast<int>(data.offsets.size()) - 1;
  const int64_t total_k = data.offsets.back();
  Buffer<float> x(*cpu, data.x), xn(*cpu, data.x_sq), c(*cpu, data.c);
  Buffer<float> best(*cpu, data.n * problems), second(*cpu, data.n * problems);
  Buffer<int32_t> labels(*cpu, data.n * problems);
  cpu->kmeans_assign(x.matrix(data.n, data.d), xn.data(), c.matrix(total_k, data.d), data.offsets.data(), problems,
                     labels.data(), best.data(), second.data());
  return {labels.to_host(), best.to_host(), second.to_host()};
}

// Labels may differ only where the CPU's choice is as near within tol (a near-tie).
inline void expect_same_assignment(const Data& data, const Assignment& want, const Assignment& got, bool with_second,
                                   int max_near_ties = 2) {
  const int problems = static_cast<int>(data.offsets.size()) - 1;
  int near_ties = 0;
  for (int b = 0; b < problems; ++b) {
    for (int64_t i = 0; i < data.n; ++i) {
      const std::size_t p = static_cast<std::size_t>(b * data.n + i);
      const double tol = 1e-4 * (1.0 + data.x_sq[i]);
      ASSERT_NEAR(got.best[p], want.best[p], tol) << "problem " << b << " row " << i;
      if (with_second) {
        ASSERT_NEAR(got.second[p], want.second[p], tol) << "problem " << b << " row " << i;
      }
      if (got.labels[p] != want.labels[p]) {
        ++near_ties;
        ASSERT_NEAR(want.second[p], want.best[p], tol) << "problem " << b << " row " << i << ": labels "
                                                        << want.labels[p] << " vs " << got.labels[p];
      }
    }
  }
  EXPECT_LE(near_ties, max_near_ties);
}

}  // namespace cohort::test
