// CPU iALS / explicit ALS: the Gram matrix, one half-step (every row's normal equations solved
// by Cholesky or by conjugate gradient) and the data term of the loss.
//
// Each row u solves (with w_ui = c_ui - 1 and b_u = sum_i c_ui y_i for implicit feedback,
// Hu, Koren, Volinsky 2008; w_ui = 1 and b_u = sum_i r_ui y_i for explicit ratings):
//   A_u x_u = b_u,   A_u = [YtY] + reg_u I + sum_i w_ui y_i y_i^T
// with reg_u = reg for implicit feedback and reg n_u (the row's count of ratings) for explicit.
// Cholesky builds and solves the systems in double (only the upper triangle of A_u is formed);
// conjugate gradient runs in float without forming A_u.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/backend_checks.hpp"
#include "kernels/cpu/cpu_ops.hpp"
#include "kernels/cpu/csr_checks.hpp"
#include "kernels/cpu/hot_clones.hpp"
#include "kernels/error.hpp"

namespace cohort::cpu {
namespace {

constexpr int64_t kGramChunkRows = 2048;  // rows per partial Gram triangle
constexpr int64_t kGramMaxChunks = 64;     // bounds the partials' memory at 64 f^2 doubles
constexpr int64_t kLossBlockRows = 256;   // rows per partial sum of the loss (fixed summation order)
constexpr int kRankBlock = 4;             // entries folded into A_u per pass over its upper triangle
constexpr double kCgRelativeTolerance = 1e-10;  // CG stops when |r| <= tol |b|
constexpr double kPivotRelativeFloor = 1e-13;   // a Cholesky pivot below this share of its diagonal is singular

void check_values(const CsrView& m, bool implicit, const char* where) {
  if (m.values == nullptr) return;
  for (int64_t k = 0; k < m.nnz; ++k) check_als_value(where, m.values[k], k, implicit);
}

double dot(const double* a, const double* b, int64_t n) {
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (int64_t q = 0; q < n; ++q) s += a[q] * b[q];
  return s;
}

double dot(const float* a, const double* b, int64_t n) {
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (int64_t q = 0; q < n; ++q) s += static_cast<double>(a[q]) * b[q];
  return s;
}

// Upper triangle of a (f x f), rows and columns [from, f): a += sum_{k < R} w[k] v_k v_k^T,
// v_k = vs + k * f. Folding R vectors into one sweep divides the loads and stores of a by R.
template <int R>
COHORT_HOT_CLONES void add_rank(double* __restrict a, const double* __restrict vs, const double* w, int64_t f,
                                int64_t from) {
  const double* __restrict v0 = vs;
  const double* __restrict v1 = vs + (R > 1 ? f : 0);
  const double* __restrict v2 = vs + (R > 2 ? 2 * f : 0);
  const double* __restrict v3 = vs + (R > 3 ? 3 * f : 0);
  for (int64_t p = from; p < f; ++p) {
    const double s0 = w[0] * v0[p];
    const double s1 = R > 1 ? w[1] * v1[p] : 0.0;
    const double s2 = R > 2 ? w[2] * v2[p] : 0.0;
    const double s3 = R > 3 ? w[3] * v3[p] : 0.0;
    double* __restrict row = a + p * f;
    for (int64_t q = p; q < f; ++q) {
      double t = s0 * v0[q];
      if constexpr (R > 1) t += s1 * v1[q];
      if constexpr (R > 2) t += s2 * v2[q];
      if constexpr (R > 3) t += s3 * v3[q];
      row[q] += t;
    }
  }
}

void add_rank(int r, double* a, const double* vs, const double* w, int64_t f, int64_t from) {
  switch (r) {
    case 1: add_rank<1>(a, vs, w, f, from); break;
    case 2: add_rank<2>(a, vs, w, f, from); break;
    case 3: add_rank<3>(a, vs, w, f, from); break;
    default: add_rank<4>(a, vs, w, f, from); break;
  }
}

// In place: the upper triangle of a (f x f, symmetric positive definite) becomes U with
// a = U^T U. Right-looking by panels of kRankBlock rows: a panel is factored with its own
// updates, then the trailing triangle gets the panel's rank-kRankBlock downdate in one sweep.
// inv_diag: f, receives 1 / U_kk. False when a pivot is not clearly positive (singular or
// indefinite).
COHORT_HOT_CLONES bool cholesky_upper(double* __restrict a, double* __restrict inv_diag, int64_t f) {
  double* diag = inv_diag;  // holds the original diagonal until pivot k overwrites entry k
  for (int64_t k = 0; k < f; ++k) diag[k] = a[k * f + k];
  static constexpr double kMinusOnes[kRankBlock] = {-1.0, -1.0, -1.0, -1.0};
  for (int64_t k0 = 0; k0 < f; k0 += kRankBlock) {
    const int64_t k1 = std::min(f, k0 + kRankBlock);
    for (int64_t k = k0; k < k1; ++k) {
      double* __restrict rk = a + k * f;
      const double pivot = rk[k];
      if (!(pivot > kPivotRelativeFloor * diag[k]) || !std::isfinite(pivot)) return false;
      const double d = std::sqrt(pivot);
      const double inv = 1.0 / d;
      rk[k] = d;
      inv_diag[k] = inv;
      for (int64_t q = k + 1; q < f; ++q) rk[q] *= inv;
      for (int64_t p = k + 1; p < k1; ++p) {
        const double s = rk[p];
        double* __restrict rp = a + p * f;
        for (int64_t q = p; q < f; ++q) rp[q] -= s * rk[q];
      }
    }
    // Rows of U are f apart, the layout add_rank expects of its vectors.
    if (k1 < f) add_rank(static_cast<int>(k1 - k0), a, a + k0 * f, kMinusOnes, f, k1);
  }
  return true;
}

// Solves U^T U x = b given U and 1 / diag(U) from cholesky_upper; b is overwritten by the
// intermediate z.
COHORT_HOT_CLONES void cholesky_solve(const double* __restrict u, const double* __restrict inv_diag,
                                      double* __restrict b, double* __restrict x, int64_t f) {
  // U^T z = b, column by column of U^T (rows of U), so the update is contiguous.
  for (int64_t k = 0; k < f; ++k) {
    const double* __restrict rk = u + k * f;
    const double z = b[k] * inv_diag[k];
    b[k] = z;
    for (int64_t q = k + 1; q < f; ++q) b[q] -= z * rk[q];
  }
  // U x = z.
  for (int64_t k = f - 1; k >= 0; --k) {
    const double* rk = u + k * f;
    x[k] = (b[k] - dot(rk + k + 1, x + k + 1, f - 1 - k)) * inv_diag[k];
  }
}

// Per-thread scratch for one row's system.
struct RowScratch {
  explicit RowScratch(int64_t f)
      : a(f * f), diag(f), rhs(f), sol(f), ys(kRankBlock * f) {}
  std::vector<double> a, diag, rhs, sol, ys;
};

// Per-thread scratch for one row's conjugate-gradient solve (float).
struct CgScratch {
  explicit CgScratch(int64_t f) : rhs(f), r(f), p(f), ap(f) {}
  std::vector<float> rhs, r, p, ap;
};

// Everything a row solve needs that is shared by all rows.
struct SolveSetup {
  CsrView rows;
  MatrixView<const float> y;
  const double* gram = nullptr;  // f x f in double; null for explicit ratings
  double reg = 0.0;
  bool implicit = true;
  int64_t f = 0;

  // Confidence (implicit) or rating (explicit) of entry k.
  double value(int64_t k) const { return rows.values != nullptr ? rows.values[k] : 1.0; }
  // The weight of y_i y_i^T in A_u for a stored value v.
  double weight(double v) const { return implicit ? v - 1.0 : 1.0; }
  // The ridge term of the row of entries [begin, end) (backend.hpp, AlsMode).
  double row_reg(int64_t begin, int64_t end) const { return implicit ? reg : reg * static_cast<double>(end - begin); }
};

// b_u = sum_i v_ui y_i.
COHORT_HOT_CLONES void build_rhs(const SolveSetup& s, int64_t begin, int64_t end, double* b) {
  std::fill(b, b + s.f, 0.0);
  for (int64_t k = begin; k < end; ++k) {
    const double v = s.value(k);
    const float* yi = s.y.row(s.rows.indices[k]);
    for (int64_t q = 0; q < s.f; ++q) b[q] += v * static_cast<double>(yi[q]);
  }
}

// Upper triangle of A_u, entries of zero weight (confidence 1) skipped.
void build_system(const SolveSetup& s, int64_t begin, int64_t end, RowScratch& t) {
  const int64_t f = s.f;
  double* a = t.a.data();
  const double reg = s.row_reg(begin, end);
  for (int64_t p = 0; p < f; ++p) {
    for (int64_t q = p; q < f; ++q) a[p * f + q] = s.gram != nullptr ? s.gram[p * f + q] : 0.0;
    a[p * f + p] += reg;
  }
  double w[kRankBlock] = {};
  int filled = 0;
  for (int64_t k = begin; k < end; ++k) {
    const double wk = s.weight(s.value(k));
    if (wk == 0.0) continue;
    const float* yi = s.y.row(s.rows.indices[k]);
    double* dst = t.ys.data() + filled * f;
    for (int64_t q = 0; q < f; ++q) dst[q] = yi[q];
    w[filled++] = wk;
    if (filled == kRankBlock) {
      add_rank<kRankBlock>(a, t.ys.data(), w, f, 0);
      filled = 0;
    }
  }
  if (filled > 0) add_rank(filled, a, t.ys.data(), w, f, 0);
}

// Returns false when the system is not positive definite.
bool solve_cholesky(const SolveSetup& s, int64_t begin, int64_t end, RowScratch& t, float* x) {
  build_system(s, begin, end, t);
  build_rhs(s, begin, end, t.rhs.data());
  if (!cholesky_upper(t.a.data(), t.diag.data(), s.f)) return false;
  cholesky_solve(t.a.data(), t.diag.data(), t.rhs.data(), t.sol.data(), s.f);
  for (int64_t q = 0; q < s.f; ++q) x[q] = static_cast<float>(t.sol[q]);
  return true;
}

COHORT_HOT_CLONES float dot_f(const float* __restrict a, const float* __restrict b, int64_t n) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int64_t q = 0; q < n; ++q) s += a[q] * b[q];
  return s;
}

// out = A_u v without forming A_u: [gram v] + reg_u v + sum_i w_ui (y_i . v) y_i. The gram term
// is summed as columns (gram is symmetric), so every loop is a contiguous axpy.
COHORT_HOT_CLONES void apply_system_f(const SolveSetup& s, const float* __restrict gram, int64_t begin, int64_t end,
                                      const float* __restrict v, float* __restrict out) {
  const int64_t f = s.f;
  const float reg = static_cast<float>(s.row_reg(begin, end));
  for (int64_t q = 0; q < f; ++q) out[q] = reg * v[q];
  if (gram != nullptr)
    for (int64_t p = 0; p < f; ++p) {
      const float vp = v[p];
      const float* __restrict g = gram + p * f;
      for (int64_t q = 0; q < f; ++q) out[q] += vp * g[q];
    }
  for (int64_t k = begin; k < end; ++k) {
    const float wk = static_cast<float>(s.weight(s.value(k)));
    if (wk == 0.0f) continue;
    const float* __restrict yi = s.y.row(s.rows.indices[k]);
    const float c = wk * dot_f(yi, v, f);
    for (int64_t q = 0; q < f; ++q) out[q] += c * yi[q];
  }
}

// b_u = sum_i v_ui y_i in float (the CG path).
COHORT_HOT_CLONES void build_rhs_f(const SolveSetup& s, int64_t begin, int64_t end, float* __restrict b) {
  std::fill(b, b + s.f, 0.0f);
  for (int64_t k = begin; k < end; ++k) {
    const float v = static_cast<float>(s.value(k));
    const float* __restrict yi = s.y.row(s.rows.indices[k]);
    for (int64_t q = 0; q < s.f; ++q) b[q] += v * yi[q];
  }
}

// Conjugate gradient warm-started from x: r = b - A x, p = r, then `steps` CG steps. In float,
// as implicit does: a few steps from a warm start do not need double's precision, and float
// doubles the SIMD width of the matrix-vector products that dominate it.
void solve_cg(const SolveSetup& s, const float* gram, int64_t begin, int64_t end, int steps, CgScratch& t, float* x) {
  const int64_t f = s.f;
  float* r = t.r.data();
  float* p = t.p.data();
  float* ap = t.ap.data();
  float* b = t.rhs.data();
  build_rhs_f(s, begin, end, b);
  const float tiny = static_cast<float>(kCgRelativeTolerance * kCgRelativeTolerance) * dot_f(b, b, f);
  apply_system_f(s, gram, begin, end, x, ap);
  for (int64_t q = 0; q < f; ++q) {
    r[q] = b[q] - ap[q];
    p[q] = r[q];
  }
  float rs = dot_f(r, r, f);
  for (int step = 0; step < steps && rs > tiny; ++step) {
    apply_system_f(s, gram, begin, end, p, ap);
    const float pap = dot_f(p, ap, f);
    if (!(pap > 0.0f)) break;  // p = 0 or an indefinite system: no step is defined
    const float alpha = rs / pap;
    for (int64_t q = 0; q < f; ++q) {
      x[q] += alpha * p[q];
      r[q] -= alpha * ap[q];
    }
    const float rs_next = dot_f(r, r, f);
    const float beta = rs_next / rs;
    for (int64_t q = 0; q < f; ++q) p[q] = r[q] + beta * p[q];
    rs = rs_next;
  }
}

}  // namespace

void gram(MatrixView<const float> y, float* out) {
  check_gram_args(y, out);
  const int64_t n = y.rows;
  const int64_t f = y.cols;
  if (f == 0) return;
  // Fixed row chunks, each summed into its own double triangle, then added in chunk order:
  // the result does not depend on the thread count.
  const int64_t chunks = std::clamp<int64_t>((n + kGramChunkRows - 1) / kGramChunkRows, 1, kGramMaxChunks);
  const int64_t chunk_rows = (n + chunks - 1) / chunks;
  std::vector<double> partial(static_cast<std::size_t>(chunks * f * f), 0.0);
  static constexpr double kOnes[kRankBlock] = {1.0, 1.0, 1.0, 1.0};
#pragma omp parallel
  {
    std::vector<double> ys(static_cast<std::size_t>(kRankBlock * f));
#pragma omp for schedule(dynamic, 1)
    for (int64_t c = 0; c < chunks; ++c) {
      double* acc = partial.data() + c * f * f;
      const int64_t end = std::min(n, (c + 1) * chunk_rows);
      for (int64_t i = c * chunk_rows; i < end; i += kRankBlock) {
        const int count = static_cast<int>(std::min<int64_t>(kRankBlock, end - i));
        for (int j = 0; j < count; ++j) std::copy_n(y.row(i + j), f, ys.data() + j * f);
        add_rank(count, acc, ys.data(), kOnes, f, 0);
      }
    }
  }
  for (int64_t p = 0; p < f; ++p) {
    for (int64_t q = p; q < f; ++q) {
      double sum = 0.0;
      for (int64_t c = 0; c < chunks; ++c) sum += partial[c * f * f + p * f + q];
      out[p * f + q] = static_cast<float>(sum);
      out[q * f + p] = static_cast<float>(sum);
    }
  }
}

void als_solve(CsrView rows, MatrixView<const float> y, const float* gram, float reg, AlsMode mode,
               SolverKind solver, int cg_steps, MatrixView<float> x) {
  check_als_solve_args(rows, y, gram, reg, mode, solver, cg_steps, x);
  check_csr(rows, "als_solve");
  const int64_t f = y.cols;
  const bool implicit = mode == AlsMode::implicit;
  check_values(rows, implicit, "als_solve");
  if (rows.rows == 0) return;

  std::vector<double> gram_d;
  if (implicit && solver == SolverKind::cholesky) gram_d.assign(gram, gram + f * f);
  const SolveSetup setup{rows, y, implicit ? gram_d.data() : nullptr, static_cast<double>(reg), implicit, f};

  int64_t failed_row = -1;
#pragma omp parallel
  {
    RowScratch scratch(solver == SolverKind::cholesky ? f : 0);
    CgScratch cg_scratch(solver == SolverKind::conjugate_gradient ? f : 0);
#pragma omp for schedule(dynamic, 16)
    for (int64_t u = 0; u < rows.rows; ++u) {
      const int64_t begin = rows.indptr[u];
      const int64_t end = rows.indptr[u + 1];
      float* xu = x.row(u);
      if (begin == end) {
        std::fill(xu, xu + f, 0.0f);
        continue;
      }
      if (solver == SolverKind::conjugate_gradient) {
        solve_cg(setup, implicit ? gram : nullptr, begin, end, cg_steps, cg_scratch, xu);
      } else if (!solve_cholesky(setup, begin, end, scratch, xu)) {
#pragma omp critical(cohort_als_failed_row)
        if (failed_row < 0 || u < failed_row) failed_row = u;
      }
    }
  }
  COHORT_CHECK(failed_row < 0,
               "als_solve: the normal equations of row {} are not positive definite (reg = {}); use reg > 0",
               failed_row, reg);
}

double als_loss(CsrView rows, MatrixView<const float> x, MatrixView<const float> y, const float* gram,
                AlsMode mode) {
  check_als_loss_args(rows, x, y, gram, mode);
  check_csr(rows, "als_loss");
  const int64_t f = y.cols;
  const bool implicit = mode == AlsMode::implicit;
  check_values(rows, implicit, "als_loss");
  if (rows.rows == 0) return 0.0;

  // Per user, with s_i = x_u . y_i:
  //   implicit: sum_all_i s_i^2 = x_u^T (Y^T Y) x_u, and each stored entry turns its
  //             s_i^2 into c_ui (1 - s_i)^2 (the p = 1 term plus the (c - 1) correction);
  //   explicit: sum over stored entries of (r_ui - s_i)^2.
  const int64_t blocks = (rows.rows + kLossBlockRows - 1) / kLossBlockRows;
  std::vector<double> partial(static_cast<std::size_t>(blocks), 0.0);
#pragma omp parallel
  {
    std::vector<double> xd(static_cast<std::size_t>(f));
#pragma omp for schedule(dynamic, 1)
    for (int64_t block = 0; block < blocks; ++block) {
      const int64_t u_end = std::min(rows.rows, (block + 1) * kLossBlockRows);
      double sum = 0.0;
      for (int64_t u = block * kLossBlockRows; u < u_end; ++u) {
        const float* xu = x.row(u);
        for (int64_t q = 0; q < f; ++q) xd[q] = xu[q];
        double user = 0.0;
        if (implicit) {
          for (int64_t p = 0; p < f; ++p) user += xd[p] * dot(gram + p * f, xd.data(), f);
        }
        for (int64_t k = rows.indptr[u]; k < rows.indptr[u + 1]; ++k) {
          const double v = rows.values != nullptr ? rows.values[k] : 1.0;
          const double s = dot(y.row(rows.indices[k]), xd.data(), f);
          user += implicit ? v * (1.0 - s) * (1.0 - s) - s * s : (v - s) * (v - s);
        }
        sum += user;
      }
      partial[block] = sum;
    }
  }
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}

}  // namespace cohort::cpu
