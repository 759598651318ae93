// CPU dense helpers: gemm_nt, row_sq_norms, normalize_rows.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/buffer.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/error.hpp"
#include "kernels/cpu_test_support.hpp"

namespace cohort {
namespace {

class CpuDense : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> backend_ = make_cpu_backend(2);
};

TEST_F(CpuDense, GemmNtKnownAnswer) {
  // a = [1 2 3; 4 5 6], b = [1 0 1; 0 1 0]: a b^T = [4 2; 10 5].
  Buffer<float> a(*backend_, std::vector<float>{1, 2, 3, 4, 5, 6});
  Buffer<float> b(*backend_, std::vector<float>{1, 0, 1, 0, 1, 0});
  Buffer<float> c(*backend_, std::vector<float>{1, 1, 2, 2});
  backend_->gemm_nt(2.0f, a.matrix(2, 3), b.matrix(2, 3), 0.5f, c.matrix(2, 2));
  EXPECT_EQ(c.to_host(), (std::vector<float>{8.5f, 4.5f, 21.0f, 11.0f}));
}

TEST_F(CpuDense, GemmNtBetaZeroIgnoresGarbage) {
  Buffer<float> a(*backend_, std::vector<float>{1, 2});
  Buffer<float> b(*backend_, std::vector<float>{3, 4});
  Buffer<float> c(*backend_, std::vector<float>{NAN});
  backend_->gemm_nt(1.0f, a.matrix(1, 2), b.matrix(1, 2), 0.0f, c.matrix(1, 1));
  EXPECT_EQ(c.to_host()[0], 11.0f);
}

TEST_F(CpuDense, GemmNtHonoursLeadingDimensions) {
  // a: 2 x 2 inside rows of 3; c: 2 x 1 inside rows of 2 (the second column must not change).
  Buffer<float> a(*backend_, std::vector<float>{1, 2, 99, 3, 4, 99});
  Buffer<float> b(*backend_, std::vector<float>{1, 1});
  Buffer<float> c(*backend_, std::vector<float>{0, 7, 0, 7});
  MatrixView<const float> av(a.data(), 2, 2, 3);
  MatrixView<float> cv(c.data(), 2, 1, 2);
  backend_->gemm_nt(1.0f, av, b.matrix(1, 2), 0.0f, cv);
  EXPECT_EQ(c.to_host(), (std::vector<float>{3, 7, 7, 7}));
}

TEST_F(CpuDense, GemmNtEmptyInnerDimensionScalesC) {
  Buffer<float> c(*backend_, std::vector<float>{1, 2, 3, 4});
  MatrixView<const float> empty_a(nullptr, 2, 0, 0);
  MatrixView<const float> empty_b(nullptr, 2, 0, 0);
  backend_->gemm_nt(1.0f, empty_a, empty_b, 3.0f, c.matrix(2, 2));
  EXPECT_EQ(c.to_host(), (std::vector<float>{3, 6, 9, 12}));
}

TEST_F(CpuDense, GemmNtMatchesNaiveOnRandomInput) {
  const uint64_t seed = 7;
  SCOPED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const int64_t m = 37, n = 23, k = 19;
  auto ah = test::random_normal(rng, m * k);
  auto bh = test::random_normal(rng, n * k);
  auto ch = test::random_normal(rng, m * n);
  Buffer<float> a(*backend_, ah), b(*backend_, bh), c(*backend_, ch);
  backend_->gemm_nt(-1.5f, a.matrix(m, k), b.matrix(n, k), 0.25f, c.matrix(m, n));
  auto got = c.to_host();
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double dot = 0.0;
      for (int64_t t = 0; t < k; ++t) dot += static_cast<double>(ah[i * k + t]) * bh[j * k + t];
      EXPECT_NEAR(got[i * n + j], -1.5 * dot + 0.25 * ch[i * n + j], 1e-4) << i << "," << j;
    }
  }
}

TEST_F(CpuDense, GemmNtRejectsMismatchedShapes) {
  Buffer<float> a(*backend_, 6), b(*backend_, 8), c(*backend_, 4);
  EXPECT_THROW(backend_->gemm_nt(1.0f, a.matrix(2, 3), b.matrix(2, 4), 0.0f, c.matrix(2, 2)), Error);
  EXPECT_THROW(backend_->gemm_nt(1.0f, a.matrix(2, 3), b.matrix(2, 3), 0.0f, c.matrix(1, 2)), Error);
}

TEST_F(CpuDense, RowSqNorms) {
  Buffer<float> x(*backend_, std::vector<float>{3, 4, 0, 0, 1, -2});
  Buffer<float> out(*backend_, 3);
  backend_->row_sq_norms(x.matrix(3, 2), out.data());
  EXPECT_EQ(out.to_host(), (std::vector<float>{25, 0, 5}));
}

TEST_F(CpuDense, NormalizeRowsKeepsZeroRows) {
  Buffer<float> x(*backend_, std::vector<float>{3, 4, 0, 0, 0, -2});
  backend_->normalize_rows(x.matrix(3, 2));
  auto got = x.to_host();
  EXPECT_FLOAT_EQ(got[0], 0.6f);
  EXPECT_FLOAT_EQ(got[1], 0.8f);
  EXPECT_EQ(got[2], 0.0f);
  EXPECT_EQ(got[3], 0.0f);
  EXPECT_EQ(got[4], 0.0f);
  EXPECT_EQ(got[5], -1.0f);
}

TEST_F(CpuDense, NormalizeRowsGivesUnitNorms) {
  std::mt19937_64 rng(11);
  Buffer<float> x(*backend_, test::random_normal(rng, 50 * 9));
  backend_->normalize_rows(x.matrix(50, 9));
  Buffer<float> norms(*backend_, 50);
  backend_->row_sq_norms(x.matrix(50, 9), norms.data());
  for (float v : norms.to_host()) EXPECT_NEAR(v, 1.0f, 1e-5f);
}

TEST_F(CpuDense, DistancesFromDotsAreEuclideanWithZeroSelf) {
  // Points (0,0), (3,4), (1,0) against themselves: dots = -2 u.v.
  const std::vector<float> p{0, 0, 3, 4, 1, 0};
  Buffer<float> pts(*backend_, p), sq(*backend_, 3), d(*backend_, 9);
  backend_->row_sq_norms(pts.matrix(3, 2), sq.data());
  backend_->gemm_nt(-2.0f, pts.matrix(3, 2), pts.matrix(3, 2), 0.0f, d.matrix(3, 3));
  backend_->distances_from_dots(d.matrix(3, 3), sq.data(), sq.data(), 0);
  const std::vector<float> got = d.to_host();
  const double want[9] = {0, 5, 1, 5, 0, std::sqrt(20.0), 1, std::sqrt(20.0), 0};
  for (int e = 0; e < 9; ++e) EXPECT_NEAR(got[e], want[e], 1e-6) << e;
  for (int e : {0, 4, 8}) EXPECT_EQ(got[e], 0.0f);

  // Rows 1..2 against all three (self_offset 1); an entry whose rounding went below zero
  // (1 + 0 - 3) clamps to 0 instead of NaN.
  Buffer<float> block(*backend_, std::vector<float>{0, -50, -6, -3, -6, -2});
  backend_->distances_from_dots(block.matrix(2, 3), sq.data() + 1, sq.data(), 1);
  const std::vector<float> b = block.to_host();
  const double want_b[6] = {5, 0, std::sqrt(20.0), 0, std::sqrt(20.0), 0};
  for (int e = 0; e < 6; ++e) EXPECT_NEAR(b[e], want_b[e], 1e-6) << e;
  EXPECT_EQ(b[1], 0.0f);  // (row 0, column 1): self
  EXPECT_EQ(b[5], 0.0f);  // (row 1, column 2): self
  EXPECT_THROW(backend_->distances_from_dots(block.matrix(2, 3), nullptr, sq.data(), 0), Error);
}

}  // namespace
}  // namespace cohort
