// The CPU ALS kernels (gram, als_solve, als_loss) against dense computations written here,
// plus a checkerboard whose recommendations are known.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "kernels/backend.hpp"
#include "kernels/buffer.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/error.hpp"
#include "kernels/training_fixtures.hpp"

namespace cohort {
namespace {

using testing::BackendCsr;
using testing::Checkerboard;
using testing::HostCsr;
using testing::random_csr;
using testing::random_vector;

constexpr int64_t kF = 13;  // not a multiple of any vector width

// Dense normal equations A x = b of row u, in double, straight from the definitions.
struct NormalEquations {
  std::vector<double> a;  // f x f
  std::vector<double> b;  // f
};

NormalEquations normal_equations(const HostCsr& m, int64_t u, const std::vector<float>& y, int64_t f,
                                 const std::vector<float>* gram, double reg, AlsMode mode, bool with_values) {
  NormalEquations eq{std::vector<double>(f * f, 0.0), std::vector<double>(f, 0.0)};
  for (int64_t p = 0; p < f; ++p) {
    for (int64_t q = 0; q < f; ++q) {
      if (mode == AlsMode::implicit) eq.a[p * f + q] = (*gram)[p * f + q];
    }
    // Explicit ratings: the ridge term scales with the row's count (backend.hpp, AlsMode).
    eq.a[p * f + p] += mode == AlsMode::implicit ? reg : reg * static_cast<double>(m.indptr[u + 1] - m.indptr[u]);
  }
  for (int64_t k = m.indptr[u]; k < m.indptr[u + 1]; ++k) {
    const double v = with_values ? m.values[k] : 1.0;
    const double w = mode == AlsMode::implicit ? v - 1.0 : 1.0;
    const float* yi = y.data() + m.indices[k] * f;
    for (int64_t p = 0; p < f; ++p) {
      eq.b[p] += v * yi[p];
      for (int64_t q = 0; q < f; ++q) eq.a[p * f + q] += w * yi[p] * yi[q];
    }
  }
  return eq;
}

// Gaussian elimination with partial pivoting.
std::vector<double> dense_solve(std::vector<double> a, std::vector<double> b) {
  const int64_t n = static_cast<int64_t>(b.size());
  for (int64_t c = 0; c < n; ++c) {
    int64_t pivot = c;
    for (int64_t r = c + 1; r < n; ++r) {
      if (std::abs(a[r * n + c]) > std::abs(a[pivot * n + c])) pivot = r;
    }
    for (int64_t q = 0; q < n; ++q) std::swap(a[c * n + q], a[pivot * n + q]);
    std::swap(b[c], b[pivot]);
    for (int64_t r = c + 1; r < n; ++r) {
      const double m = a[r * n + c] / a[c * n + c];
      for (int64_t q = c; q < n; ++q) a[r * n + q] -= m * a[c * n + q];
      b[r] -= m * b[c];
    }
  }
  std::vector<double> x(n);
  for (int64_t r = n - 1; r >= 0; --r) {
    double s = b[r];
    for (int64_t q = r + 1; q < n; ++q) s -= a[r * n + q] * x[q];
    x[r] = s / a[r * n + r];
  }
  return x;
}

std::vector<float> naive_gram(const std::vector<float>& y, int64_t n, int64_t f) {
  std::vector<float> g(f * f);
  for (int64_t p = 0; p < f; ++p) {
    for (int64_t q = 0; q < f; ++q) {
      double s = 0.0;
      for (int64_t i = 0; i < n; ++i) s += static_cast<double>(y[i * f + p]) * y[i * f + q];
      g[p * f + q] = static_cast<float>(s);
    }
  }
  return g;
}

double max_abs(const std::vector<double>& v) {
  double m = 0.0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

// |b - A x| and the energy norm of the error sqrt((x - x*)^T A (x - x*)) for row u.
struct RowError {
  double residual = 0.0;
  double energy = 0.0;
};

RowError row_error(const NormalEquations& eq, const float* x, int64_t f) {
  std::vector<double> xd(x, x + f);
  const std::vector<double> exact = dense_solve(eq.a, eq.b);
  RowError e;
  for (int64_t p = 0; p < f; ++p) {
    double ax = 0.0;
    double ae = 0.0;
    for (int64_t q = 0; q < f; ++q) {
      ax += eq.a[p * f + q] * xd[q];
      ae += eq.a[p * f + q] * (xd[q] - exact[q]);
    }
    e.residual += (eq.b[p] - ax) * (eq.b[p] - ax);
    e.energy += (xd[p] - exact[p]) * ae;
  }
  e.residual = std::sqrt(e.residual);
  e.energy = std::sqrt(std::max(0.0, e.energy));
  return e;
}

class CpuAlsTest : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> backend_ = make_cpu_backend(2);
  std::mt19937_64 rng_{20240611};

  // A random problem: `rows` x `cols` matrix (rows 0 and 3 empty), y random, the Gram matrix.
  struct Problem {
    HostCsr m;
    std::vector<float> y;
    std::vector<float> gram;
  };
  Problem random_problem(int64_t rows, int64_t cols, float low, float high) {
    Problem p;
    p.m = random_csr(rows, cols, 0.3, low, high, rng_);
    for (int64_t empty_row : {0, 3}) {
      const int64_t begin = p.m.indptr[empty_row];
      const int64_t count = p.m.indptr[empty_row + 1] - begin;
      p.m.indices.erase(p.m.indices.begin() + begin, p.m.indices.begin() + begin + count);
      p.m.values.erase(p.m.values.begin() + begin, p.m.values.begin() + begin + count);
      for (int64_t r = empty_row + 1; r <= rows; ++r) p.m.indptr[r] -= count;
    }
    p.y = random_vector(cols * kF, 0.5f, rng_);
    p.gram = naive_gram(p.y, cols, kF);
    return p;
  }

  // Runs als_solve on the backend from the starting x and returns the result.
  std::vector<float> solve(const Problem& p, float reg, AlsMode mode, SolverKind solver, int steps,
                           const std::vector<float>& x0, bool with_values = true) {
    BackendCsr m(*backend_, p.m);
    Buffer<float> y(*backend_, p.y);
    Buffer<float> gram(*backend_, p.gram);
    Buffer<float> x(*backend_, x0);
    backend_->als_solve(m.view(with_values), y.matrix(p.m.cols, kF), gram.data(), reg, mode, solver, steps,
                        x.matrix(p.m.rows, kF));
    return x.to_host();
  }

  void expect_matches_dense(const Problem& p, float reg, AlsMode mode, bool with_values,
                            const std::vector<float>& x, double tolerance) {
    for (int64_t u = 0; u < p.m.rows; ++u) {
      if (p.m.indptr[u] == p.m.indptr[u + 1]) {  // no entries: x_u = 0 by definition
        for (int64_t q = 0; q < kF; ++q) ASSERT_EQ(x[u * kF + q], 0.0f) << "empty row " << u << " factor " << q;
        continue;
      }
      const NormalEquations eq = normal_equations(p.m, u, p.y, kF, &p.gram, reg, mode, with_values);
      const std::vector<double> exact = dense_solve(eq.a, eq.b);
      const double scale = std::max(1.0, max_abs(exact));
      for (int64_t q = 0; q < kF; ++q) {
        ASSERT_NEAR(x[u * kF + q], exact[q], tolerance * scale) << "row " << u << " factor " << q;
      }
    }
  }
};

TEST_F(CpuAlsTest, GramEqualsNaiveDoubleSum) {
  const int64_t n = 4500;  // several row chunks
  const int64_t ld = kF + 3;
  std::vector<float> strided = random_vector(n * ld, 1.0f, rng_);
  std::vector<float> packed(n * kF);
  for (int64_t i = 0; i < n; ++i) std::copy_n(strided.begin() + i * ld, kF, packed.begin() + i * kF);
  const std::vector<float> expected = naive_gram(packed, n, kF);

  Buffer<float> y(*backend_, strided);
  Buffer<float> out(*backend_, kF * kF);
  backend_->gram(MatrixView<const float>(y.data(), n, kF, ld), out.data());
  const std::vector<float> got = out.to_host();
  for (int64_t k = 0; k < kF * kF; ++k) {
    EXPECT_NEAR(got[k], expected[k], 1e-5 * std::max(1.0f, std::abs(expected[k]))) << "element " << k;
    EXPECT_EQ(got[k], got[(k % kF) * kF + k / kF]) << "symmetry at " << k;
  }
}

TEST_F(CpuAlsTest, GramOfNoRowsIsZero) {
  Buffer<float> y(*backend_, 0);
  Buffer<float> out(*backend_, std::vector<float>(kF * kF, 7.0f));
  backend_->gram(MatrixView<const float>(y.data(), 0, kF), out.data());
  for (float v : out.to_host()) EXPECT_EQ(v, 0.0f);
}

TEST_F(CpuAlsTest, CholeskyImplicitEqualsDenseSolve) {
  const Problem p = random_problem(30, 40, 1.0f, 6.0f);  // confidences c >= 1
  const std::vector<float> x =
      solve(p, 0.3f, AlsMode::implicit, SolverKind::cholesky, 0, std::vector<float>(30 * kF, 5.0f));
  expect_matches_dense(p, 0.3f, AlsMode::implicit, true, x, 1e-5);
}

TEST_F(CpuAlsTest, CholeskyImplicitWithoutValuesUsesConfidenceOne) {
  const Problem p = random_problem(25, 40, 1.0f, 6.0f);
  const std::vector<float> x =
      solve(p, 0.1f, AlsMode::implicit, SolverKind::cholesky, 0, std::vector<float>(25 * kF), false);
  expect_matches_dense(p, 0.1f, AlsMode::implicit, false, x, 1e-5);
}

TEST_F(CpuAlsTest, CholeskyExplicitEqualsDenseSolve) {
  const Problem p = random_problem(30, 40, 1.0f, 5.0f);  // ratings
  const std::vector<float> x =
      solve(p, 0.5f, AlsMode::explicit_ratings, SolverKind::cholesky, 0, std::vector<float>(30 * kF, -2.0f));
  expect_matches_dense(p, 0.5f, AlsMode::explicit_ratings, true, x, 1e-5);
}

TEST_F(CpuAlsTest, ConjugateGradientWithManyStepsConvergesToCholesky) {
  for (AlsMode mode : {AlsMode::implicit, AlsMode::explicit_ratings}) {
    const Problem p = random_problem(30, 40, 1.0f, 5.0f);
    const std::vector<float> x0 = random_vector(30 * kF, 1.0f, rng_);
    const std::vector<float> exact = solve(p, 0.5f, mode, SolverKind::cholesky, 0, x0);
    const std::vector<float> cg = solve(p, 0.5f, mode, SolverKind::conjugate_gradient, 60, x0);
    for (std::size_t k = 0; k < exact.size(); ++k) {
      ASSERT_NEAR(cg[k], exact[k], 1e-4 * std::max(1.0f, std::abs(exact[k])))
          << "mode " << static_cast<int>(mode) << " element " << k;
    }
  }
}

TEST_F(CpuAlsTest, ConjugateGradientStepsReduceTheError) {
  for (AlsMode mode : {AlsMode::implicit, AlsMode::explicit_ratings}) {
    const Problem p = random_problem(30, 40, 1.0f, 5.0f);
    const std::vector<float> x0 = random_vector(30 * kF, 1.0f, rng_);
    const std::vector<float> one = solve(p, 0.2f, mode, SolverKind::conjugate_gradient, 1, x0);
    const std::vector<float> three = solve(p, 0.2f, mode, SolverKind::conjugate_gradient, 3, x0);
    double residual0 = 0.0;
    double residual3 = 0.0;
    for (int64_t u = 0; u < p.m.rows; ++u) {
      if (p.m.indptr[u] == p.m.indptr[u + 1]) continue;
      const NormalEquations eq = normal_equations(p.m, u, p.y, kF, &p.gram, 0.2, mode, true);
      const RowError e0 = row_error(eq, x0.data() + u * kF, kF);
      const RowError e1 = row_error(eq, one.data() + u * kF, kF);
      const RowError e3 = row_error(eq, three.data() + u * kF, kF);
      // CG minimises the energy norm of the error over a growing Krylov space: it never grows.
      EXPECT_LT(e1.energy, e0.energy) << "row " << u;
      EXPECT_LE(e3.energy, e1.energy * (1 + 1e-6)) << "row " << u;
      residual0 += e0.residual;
      residual3 += e3.residual;
    }
    EXPECT_LT(residual3, 0.5 * residual0) << "mode " << static_cast<int>(mode);
  }
}

TEST_F(CpuAlsTest, EmptyRowsGetZero) {
  const Problem p = random_problem(10, 40, 1.0f, 5.0f);
  for (AlsMode mode : {AlsMode::implicit, AlsMode::explicit_ratings}) {
    for (SolverKind solver : {SolverKind::cholesky, SolverKind::conjugate_gradient}) {
      const std::vector<float> x = solve(p, 0.1f, mode, solver, 3, std::vector<float>(10 * kF, 9.0f));
      for (int64_t row : {0, 3}) {
        for (int64_t q = 0; q < kF; ++q) EXPECT_EQ(x[row * kF + q], 0.0f) << "row " << row;
      }
      EXPECT_NE(x[1 * kF], 9.0f);
    }
  }
}

TEST_F(CpuAlsTest, LossEqualsBruteForceSumOverAllPairs) {
  const Problem p = random_problem(600, 40, 1.0f, 5.0f);  // more than one loss block
  const std::vector<float> x = random_vector(600 * kF, 0.4f, rng_);
  BackendCsr m(*backend_, p.m);
  Buffer<float> xb(*backend_, x);
  Buffer<float> yb(*backend_, p.y);
  Buffer<float> gram(*backend_, p.gram);

  double implicit = 0.0;
  double explicit_sse = 0.0;
  for (int64_t u = 0; u < p.m.rows; ++u) {
    std::vector<float> stored(p.m.cols, 0.0f);
    for (int64_t k = p.m.indptr[u]; k < p.m.indptr[u + 1]; ++k) stored[p.m.indices[k]] = p.m.values[k];
    for (int64_t i = 0; i < p.m.cols; ++i) {
      double s = 0.0;
      for (int64_t q = 0; q < kF; ++q) s += static_cast<double>(x[u * kF + q]) * p.y[i * kF + q];
      const double pref = stored[i] > 0.0f ? 1.0 : 0.0;
      const double c = stored[i] > 0.0f ? stored[i] : 1.0;
      implicit += (pref - s) * (pref - s) + (c - 1.0) * (1.0 - s) * (1.0 - s) * pref;
      if (stored[i] > 0.0f) explicit_sse += (stored[i] - s) * (stored[i] - s);
    }
  }
  const double got_implicit =
      backend_->als_loss(m.view(), xb.matrix(600, kF), yb.matrix(40, kF), gram.data(), AlsMode::implicit);
  const double got_explicit =
      backend_->als_loss(m.view(), xb.matrix(600, kF), yb.matrix(40, kF), nullptr, AlsMode::explicit_ratings);
  EXPECT_NEAR(got_implicit, implicit, 1e-6 * implicit);
  EXPECT_NEAR(got_explicit, explicit_sse, 1e-6 * explicit_sse);
}

TEST_F(CpuAlsTest, AlternatingHalfStepsRecoverTheCheckerboard) {
  const Checkerboard board;
  const HostCsr users_items = board.matrix(1.0f + 20.0f);  // confidence 1 + alpha, alpha = 20
  const HostCsr items_users = testing::transpose(users_items);
  const int64_t f = 4;
  BackendCsr ui(*backend_, users_items);
  BackendCsr iu(*backend_, items_users);
  Buffer<float> x(*backend_, random_vector(board.users() * f, 0.1f, rng_));
  Buffer<float> y(*backend_, random_vector(board.items() * f, 0.1f, rng_));
  Buffer<float> gram(*backend_, f * f);
  const auto xs = x.matrix(board.users(), f);
  const auto ys = y.matrix(board.items(), f);

  // f = 4 exceeds the checkerboard's rank 2; reg = 2 keeps the spare factors from memorising
  // which item each user holds out.
  const float reg = 2.0f;
  double first_loss = 0.0;
  double loss = 0.0;
  for (int iteration = 0; iteration < 6; ++iteration) {
    backend_->gram(ys, gram.data());
    backend_->als_solve(ui.view(), ys, gram.data(), reg, AlsMode::implicit, SolverKind::cholesky, 0, xs);
    backend_->gram(xs, gram.data());
    backend_->als_solve(iu.view(), xs, gram.data(), reg, AlsMode::implicit, SolverKind::cholesky, 0, ys);
    backend_->gram(ys, gram.data());
    loss = backend_->als_loss(ui.view(), xs, ys, gram.data(), AlsMode::implicit);
    if (iteration == 0) first_loss = loss;
  }
  EXPECT_LT(loss, first_loss);

  const std::vector<float> xh = x.to_host();
  const std::vector<float> yh = y.to_host();
  auto score = [&](int64_t u, int64_t i) {
    double s = 0.0;
    for (int64_t q = 0; q < f; ++q) s += xh[u * f + q] * yh[i * f + q];
    return s;
  };
  for (int64_t u = 0; u < board.users(); ++u) {
    const double heldout = score(u, board.heldout_item(u));
    for (int64_t i = 0; i < board.items(); ++i) {
      if (board.block_of_item(i) != board.block_of_user(u)) {
        EXPECT_GT(heldout, score(u, i)) << "user " << u << " held-out " << board.heldout_item(u) << " vs " << i;
      }
    }
  }
}

TEST_F(CpuAlsTest, SingularExplicitSystemThrows) {
  HostCsr m;
  m.cols = 2;
  m.add(0, 4.0f);  // one rating, f = 13, reg = 0: rank 1
  m.end_row();
  Problem p{m, random_vector(2 * kF, 1.0f, rng_), {}};
  EXPECT_THROW(solve(p, 0.0f, AlsMode::explicit_ratings, SolverKind::cholesky, 0, std::vector<float>(kF)), Error);
}

TEST_F(CpuAlsTest, BadShapesAndIndicesThrow) {
  const Problem p = random_problem(5, 8, 1.0f, 3.0f);
  BackendCsr m(*backend_, p.m);
  Buffer<float> y(*backend_, p.y);
  Buffer<float> gram(*backend_, p.gram);
  Buffer<float> x(*backend_, 5 * kF);
  // y must have one row per column of the matrix.
  EXPECT_THROW(backend_->als_solve(m.view(), y.matrix(7, kF), gram.data(), 0.1f, AlsMode::implicit,
                                   SolverKind::cholesky, 0, x.matrix(5, kF)),
               Error);
  // implicit needs the Gram matrix.
  EXPECT_THROW(backend_->als_solve(m.view(), y.matrix(8, kF), nullptr, 0.1f, AlsMode::implicit, SolverKind::cholesky,
                                   0, x.matrix(5, kF)),
               Error);
  EXPECT_THROW(backend_->als_solve(m.view(), y.matrix(8, kF), gram.data(), -1.0f, AlsMode::implicit,
                                   SolverKind::cholesky, 0, x.matrix(5, kF)),
               Error);
  EXPECT_THROW(backend_->als_solve(m.view(), y.matrix(8, kF), gram.data(), 0.1f, AlsMode::implicit,
                                   SolverKind::conjugate_gradient, 0, x.matrix(5, kF)),
               Error);
  HostCsr low = p.m;
  low.values.front() = 0.5f;  // a confidence below 1
  BackendCsr low_m(*backend_, low);
  EXPECT_THROW(backend_->als_solve(low_m.view(), y.matrix(8, kF), gram.data(), 0.1f, AlsMode::implicit,
                                   SolverKind::cholesky, 0, x.matrix(5, kF)),
               Error);
  HostCsr bad = p.m;
  bad.indices.back() = 8;  // column out of range
  BackendCsr bad_m(*backend_, bad);
  EXPECT_THROW(backend_->als_solve(bad_m.view(), y.matrix(8, kF), gram.data(), 0.1f, AlsMode::implicit,
                                   SolverKind::cholesky, 0, x.matrix(5, kF)),
               Error);
  EXPECT_THROW(backend_->als_loss(bad_m.view(), x.matrix(5, kF), y.matrix(8, kF), gram.data(), AlsMode::implicit),
               Error);
}

}  // namespace
}  // namespace cohort
