// Every Backend operation on every visible GPU against the CPU backend (the reference), on
// fresh random inputs of several shapes: ragged and empty rows, k beyond a row's neighbours,
// factor counts that are not multiples of 32, batches of problems with different k.
// Top-k lists may differ at near-ties: an index mismatch passes where the scores agree.
// COHORT_SMALL=1 shrinks every size (for compute-sanitizer). Skips without a GPU.
//
// Built a second time as backend_diff_emulated_test (COHORT_CUDA_EMULATION): the same cases
// against the whole CUDA backend, launchers included, compiled for the CPU emulation of the
// device (kernels/cuda/cpu_emulation_runtime.hpp), on every ctest run: at the small sizes
// by default, at the full ones with COHORT_SMALL=0 (the backend_diff_emulated_full_sizes test).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "kernels/buffer.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/registry.hpp"
#if defined(COHORT_WITH_CUDA) || defined(COHORT_CUDA_EMULATION)
#include "kernels/cuda/cuda_backend.hpp"
#endif
#ifdef COHORT_CUDA_EMULATION
#include "kernels/cuda/cpu_emulation_runtime.hpp"
#endif

namespace cohort {
namespace {

bool small_mode() {
  const char* v = std::getenv("COHORT_SMALL");
#ifdef COHORT_CUDA_EMULATION
  return v == nullptr || std::string(v) != "0";  // the emulation runs the small sizes unless told
#else
  return v != nullptr && std::string(v) == "1";
#endif
}

// Scales a size down in small mode.
int64_t sz(int64_t normal, int64_t small) { return small_mode() ? small : normal; }

struct HostCsr {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<int64_t> indptr{0};
  std::vector<int32_t> indices;
  std::vector<float> values;
};

// Rows have a random length up to max_len (a share of them empty); values in [lo, hi].
HostCsr random_csr(std::mt19937_64& rng, int64_t rows, int64_t cols, int64_t max_len, double empty_share, float lo,
                   float hi) {
  HostCsr m;
  m.rows = rows;
  m.cols = cols;
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::uniform_real_distribution<float> value(lo, hi);
  std::vector<int32_t> pool(static_cast<std::size_t>(cols));
  for (int64_t c = 0; c < cols; ++c) pool[c] = static_cast<int32_t>(c);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t len = unit(rng) < empty_share ? 0 : 1 + static_cast<int64_t>(unit(rng) * std::min(max_len, cols));
    len = std::min(len, cols);
    // A skewed choice of columns so that some pairs share many.
    std::set<int32_t> chosen;
    while (static_cast<int64_t>(chosen.size()) < len) {
      const double u = unit(rng);
      chosen.insert(static_cast<int32_t>(std::min<double>(static_cast<double>(cols - 1), u * u * cols)));
    }
    for (int32_t c : chosen) {
      m.indices.push_back(c);
      m.values.push_back(value(rng));
    }
    m.indptr.push_back(static_cast<int64_t>(m.indices.size()));
  }
  return m;
}

HostCsr transpose(const HostCsr& a) {
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

std::vector<float> random_floats(std::mt19937_64& rng, int64_t n, float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

// A CSR uploaded to one backend.
struct BackendCsr {
  Buffer<int64_t> indptr;
  Buffer<int32_t> indices;
  Buffer<float> values;
  CsrView view;
  BackendCsr(Backend& b, const HostCsr& m, bool with_values)
      : indptr(b, m.indptr), indices(b, m.indices), values(b, with_values ? m.values : std::vector<float>{}) {
    view.rows = m.rows;
    view.cols = m.cols;
    view.nnz = static_cast<int64_t>(m.indices.size());
    view.indptr = indptr.data();
    view.indices = indices.data();
    view.values = with_values ? values.data() : nullptr;
  }
};

::testing::AssertionResult all_near(const std::vector<float>& want, const std::vector<float>& got, double atol,
                                    double rtol) {
  if (want.size() != got.size()) return ::testing::AssertionFailure() << "sizes " << want.size() << " vs " << got.size();
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double err = std::fabs(static_cast<double>(want[i]) - got[i]);
    if (!(err <= atol + rtol * std::fabs(static_cast<double>(want[i])))) {
      return ::testing::AssertionFailure() << "element " << i << ": cpu " << want[i] << ", gpu " << got[i];
    }
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult all_near(const std::vector<double>& want, const std::vector<double>& got, double atol,
                                    double rtol) {
  if (want.size() != got.size()) return ::testing::AssertionFailure() << "sizes " << want.size() << " vs " << got.size();
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double err = std::fabs(want[i] - got[i]);
    if (!(err <= atol + rtol * std::fabs(want[i]))) {
      return ::testing::AssertionFailure() << "element " << i << ": cpu " << want[i] << ", gpu " << got[i];
    }
  }
  return ::testing::AssertionSuccess();
}

// Top-k rows (rows x k): where the indices differ the scores must agree within tol (a near-tie,
// or a score near 0 that one side kept); the GPU list must be sorted and free of duplicates.
::testing::AssertionResult topk_match(const std::vector<int32_t>& want_i, const std::vector<float>& want_s,
                                      const std::vector<int32_t>& got_i, const std::vector<float>& got_s, int64_t rows,
                                      int k, double tol) {
  for (int64_t r = 0; r < rows; ++r) {
    std::set<int32_t> seen;
    for (int t = 0; t < k; ++t) {
      const std::size_t e = static_cast<std::size_t>(r * k + t);
      const double scale = 1.0 + std::fabs(static_cast<double>(want_s[e]));
      if (got_i[e] >= 0 && !seen.insert(got_i[e]).second) {
        return ::testing::AssertionFailure() << "row " << r << ": index " << got_i[e] << " listed twice";
      }
      if (t > 0 && got_i[e] >= 0 && got_s[e] > got_s[e - 1]) {
        return ::testing::AssertionFailure() << "row " << r << " slot " << t << ": not sorted";
      }
      if (want_i[e] == got_i[e]) {
        if (want_i[e] >= 0 && !(std::fabs(static_cast<double>(want_s[e]) - got_s[e]) <= tol * scale)) {
          return ::testing::AssertionFailure() << "row " << r << " slot " << t << " item " << want_i[e] << ": cpu "
                                               << want_s[e] << ", gpu " << got_s[e];
        }
        continue;
      }
      const double ws = want_i[e] >= 0 ? want_s[e] : 0.0;
      const double gs = got_i[e] >= 0 ? got_s[e] : 0.0;
      if (!(std::fabs(ws - gs) <= tol * scale)) {
        return ::testing::AssertionFailure() << "row " << r << " slot " << t << ": cpu (" << want_i[e] << ", "
                                             << want_s[e] << "), gpu (" << got_i[e] << ", " << got_s[e] << ")";
      }
    }
  }
  return ::testing::AssertionSuccess();
}

class BackendDiffGpu : public ::testing::Test {
 protected:
  void SetUp() override {
#ifdef COHORT_CUDA_EMULATION
    cpu_ = make_cpu_backend(0);
    gpus_.push_back(make_cuda_backend(0));
#else
    if (cuda_device_count() == 0) GTEST_SKIP() << "no GPU visible";
    cpu_ = make_cpu_backend(0);
    for (int d = 0; d < cuda_device_count(); ++d) gpus_.push_back(make_backend("cuda:" + std::to_string(d)));
#endif
  }

  // The same GPUs with k-means distances in TF32 (--tf32), for the tests that need them.
  std::vector<std::unique_ptr<Backend>> tf32_gpus() const {
    std::vector<std::unique_ptr<Backend>> out;
#ifdef COHORT_CUDA_EMULATION
    out.push_back(make_cuda_backend(0, true));
#else
    BackendOptions tf32;
    tf32.tf32 = true;
    for (int d = 0; d < cuda_device_count(); ++d) out.push_back(make_backend("cuda:" + std::to_string(d), tf32));
#endif
    return out;
  }

  std::unique_ptr<Backend> cpu_;
  std::vector<std::unique_ptr<Backend>> gpus_;
};

constexpr uint64_t kSeeds[] = {11, 12};

TEST_F(BackendDiffGpu, DenseHelpers) {
  for (auto& gpu : gpus_) {
    for (uint64_t seed : kSeeds) {
      SCOPED_TRACE("backend " + gpu->name() + " seed " + std::to_string(seed));
      std::mt19937_64 rng(seed);
      for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{37, 29, 13}, {sz(300, 40), sz(257, 33), 100},
                             {5, 7, 0}}) {
        const int64_t lda = k + 3;
        auto a = random_floats(rng, m * lda, -1, 1);
        auto b = random_floats(rng, n * k, -1, 1);
        auto c = random_floats(rng, m * n, -1, 1);
        std::vector<float> results[2];
        Backend* backends[2] = {cpu_.get(), gpu.get()};
        for (int s = 0; s < 2; ++s) {
          Buffer<float> da(*backends[s], a), db(*backends[s], b), dc(*backends[s], c);
          backends[s]->gemm_nt(0.5f, MatrixView<const float>(da.data(), m, k, lda), MatrixView<const float>(db.data(), n, k),
                               -2.0f, MatrixView<float>(dc.data(), m, n));
          results[s] = dc.to_host();
        }
        EXPECT_TRUE(all_near(results[0], results[1], 1e-4, 1e-4)) << "gemm_nt " << m << "x" << n << "x" << k;
      }
      const int64_t rows = sz(1000, 50);
      const int64_t cols = 100;
      auto x = random_floats(rng, rows * cols, -2, 2);
      std::fill(x.begin() + 3 * cols, x.begin() + 4 * cols, 0.0f);  // an all-zero row stays zero
      std::vector<float> norms[2], normalized[2];
      Backend* backends[2] = {cpu_.get(), gpu.get()};
      for (int s = 0; s < 2; ++s) {
        Buffer<float> dx(*backends[s], x), dn(*backends[s], rows);
        backends[s]->row_sq_norms(dx.matrix(rows, cols), dn.data());
        backends[s]->normalize_rows(dx.matrix(rows, cols));
        norms[s] = dn.to_host();
        normalized[s] = dx.to_host();
      }
      EXPECT_TRUE(all_near(norms[0], norms[1], 1e-4, 1e-5));
      EXPECT_TRUE(all_near(normalized[0], normalized[1], 1e-6, 1e-5));

      // Distances of a block of rows against all, self entries zeroed.
      const int64_t pts = sz(700, 40);
      const int64_t first = pts / 3;
      const int64_t block_rows = pts / 2;
      auto p = random_floats(rng, pts * 17, -1, 1);
      std::vector<float> dist[2];
      for (int s = 0; s < 2; ++s) {
        Buffer<float> dp(*backends[s], p), sq(*backends[s], pts), dd(*backends[s], block_rows * pts);
        const MatrixView<const float> all = dp.matrix(pts, 17);
        backends[s]->row_sq_norms(all, sq.data());
        backends[s]->gemm_nt(-2.0f, all.rows_range(first, first + block_rows), all, 0.0f, dd.matrix(block_rows, pts));
        backends[s]->distances_from_dots(dd.matrix(block_rows, pts), sq.data() + first, sq.data(), first);
        dist[s] = dd.to_host();
      }
      EXPECT_TRUE(all_near(dist[0], dist[1], 2e-3, 1e-4)) << "distances_from_dots";
      for (int64_t r = 0; r < block_rows; ++r) EXPECT_EQ(dist[1][r * pts + first + r], 0.0f);
    }
  }
}

struct CosineCase {
  int64_t rows, cols, max_len;
  int k;
  int64_t begin, end;
  bool values;
};

void run_cosine_case(Backend& cpu, Backend& gpu, std::mt19937_64& rng, const CosineCase& c, bool exclude_self) {
  SCOPED_TRACE("cosine " + std::to_string(c.rows) + " x " + std::to_string(c.cols) + " k " + std::to_string(c.k) +
               " rows [" + std::to_string(c.begin) + ", " + std::to_string(c.end) + ")");
  HostCsr a = random_csr(rng, c.rows, c.cols, c.max_len, 0.1, 0.5f, 2.0f);
  HostCsr at = transpose(a);
  const int64_t out_rows = c.end - c.begin;
  std::vector<int32_t> index[3];
  std::vector<float> score[3];
  Backend* backends[2] = {&cpu, &gpu};
  for (int s = 0; s < 3; ++s) {
    Backend& b = *backends[s == 0 ? 0 : 1];
    BackendCsr da(b, a, c.values), dat(b, at, c.values);
    Buffer<int32_t> oi(b, out_rows * c.k);
    Buffer<float> os(b, out_rows * c.k);
    if (s < 2) {
      b.topk_cosine(da.view, dat.view, c.begin, c.end, c.k, exclude_self, oi.data(), os.data());
    } else {
#if defined(COHORT_WITH_CUDA) || defined(COHORT_CUDA_EMULATION)
      cuda_topk_cosine_reference(b, da.view, dat.view, c.begin, c.end, c.k, exclude_self, oi.data(), os.data());
#else
      ADD_FAILURE() << "no CUDA backend in this build";  // unreachable: no GPU backend to test
#endif
    }
    index[s] = oi.to_host();
    score[s] = os.to_host();
  }
  EXPECT_TRUE(topk_match(index[0], score[0], index[1], score[1], out_rows, c.k, 1e-5)) << "custom kernel";
  EXPECT_TRUE(topk_match(index[0], score[0], index[2], score[2], out_rows, c.k, 1e-5)) << "cuSPARSE reference";
}

TEST_F(BackendDiffGpu, TopkCosine) {
  for (auto& gpu : gpus_) {
    for (uint64_t seed : kSeeds) {
      SCOPED_TRACE("backend " + gpu->name() + " seed " + std::to_string(seed));
      std::mt19937_64 rng(seed);
      // Small catalogue (hash tables only), k beyond the neighbours, a row sub-range.
      run_cosine_case(*cpu_, *gpu, rng, {200, 50, 8, 300, 0, 200, true}, true);
      run_cosine_case(*cpu_, *gpu, rng, {300, 80, 6, 10, 40, 170, false}, false);
      // Heavy rows over a few thousand rows: the dense shared-memory path.
      run_cosine_case(*cpu_, *gpu, rng, {sz(3000, 1500), 40, 30, 100, 0, sz(400, 60), true}, true);
      if (!small_mode()) {
        // More rows than shared memory holds: dense accumulators in global memory.
        run_cosine_case(*cpu_, *gpu, rng, {70000, 30, 20, 50, 100, 260, true}, true);
      }
    }
  }
}

struct AlsData {
  HostCsr rows;
  std::vector<float> y;
  int64_t f;
};

AlsData make_als(std::mt19937_64& rng, int64_t users, int64_t items, int64_t f, bool implicit) {
  AlsData d;
  d.rows = random_csr(rng, users, items, 40, 0.1, implicit ? 1.0f : -2.0f, implicit ? 20.0f : 5.0f);
  // A few confidences of exactly 1 (weight 0) in implicit mode.
  if (implicit) {
    for (std::size_t p = 0; p < d.rows.values.size(); p += 7) d.rows.values[p] = 1.0f;
  }
  d.y = random_floats(rng, items * f, -0.5f, 0.5f);
  d.f = f;
  return d;
}

TEST_F(BackendDiffGpu, AlsGramSolveLoss) {
  for (auto& gpu : gpus_) {
    for (uint64_t seed : kSeeds) {
      for (int64_t f : {int64_t{13}, int64_t{100}}) {
        for (AlsMode mode : {AlsMode::implicit, AlsMode::explicit_ratings}) {
          const bool implicit = mode == AlsMode::implicit;
          SCOPED_TRACE("backend " + gpu->name() + " seed " + std::to_string(seed) + " f " + std::to_string(f) +
                       (implicit ? " implicit" : " explicit"));
          std::mt19937_64 rng(seed);
          const int64_t users = sz(300, 40);
          const int64_t items = sz(500, 60);
          AlsData d = make_als(rng, users, items, f, implicit);
          auto x0 = random_floats(rng, users * f, -0.1f, 0.1f);
          std::vector<float> gram[2], chol[2], cg[2];
          double loss[2] = {0, 0};
          Backend* backends[2] = {cpu_.get(), gpu.get()};
          for (int s = 0; s < 2; ++s) {
            Backend& b = *backends[s];
            BackendCsr rows(b, d.rows, true);
            Buffer<float> y(b, d.y), g(b, f * f), x(b, x0);
            b.gram(y.matrix(items, f), g.data());
            gram[s] = g.to_host();
            b.als_solve(rows.view, y.matrix(items, f), g.data(), 0.5f, mode, SolverKind::cholesky, 0,
                        x.matrix(users, f));
            chol[s] = x.to_host();
            loss[s] = b.als_loss(rows.view, x.matrix(users, f), y.matrix(items, f), g.data(), mode);
            x.upload(x0);
            b.als_solve(rows.view, y.matrix(items, f), g.data(), 0.5f, mode, SolverKind::conjugate_gradient, 3,
                        x.matrix(users, f));
            cg[s] = x.to_host();
          }
          EXPECT_TRUE(all_near(gram[0], gram[1], 1e-3, 1e-4)) << "gram";
          EXPECT_TRUE(all_near(chol[0], chol[1], 2e-3, 2e-3)) << "cholesky";
          EXPECT_TRUE(all_near(cg[0], cg[1], 5e-3, 5e-3)) << "conjugate gradient";
          EXPECT_NEAR(loss[0], loss[1], 1e-4 * (1.0 + std::fabs(loss[0]))) << "loss";
          // Empty rows solve to zero.
          for (int64_t u = 0; u < users; ++u) {
            if (d.rows.indptr[u] != d.rows.indptr[u + 1]) continue;
            for (int64_t q = 0; q < f; ++q) {
              EXPECT_EQ(chol[1][u * f + q], 0.0f);
              EXPECT_EQ(cg[1][u * f + q], 0.0f);
            }
          }
        }
      }
    }
  }
}

// CG on rows of very different lengths, as an item side has: most short (a warp each on the
// GPU), some of a few hundred nonzeros (a block each), and a few of thousands, which the GPU
// cuts into chunks when they are long against a block's fair share (als.cu). The emulated run
// also goes through backend_diff_emulated_cg_split with a low threshold, so that the chunked
// path serves every row above it.
TEST_F(BackendDiffGpu, AlsCgLongRows) {
  for (auto& gpu : gpus_) {
    for (int64_t f : {int64_t{32}, int64_t{100}}) {
      for (AlsMode mode : {AlsMode::implicit, AlsMode::explicit_ratings}) {
        const bool implicit = mode == AlsMode::implicit;
        SCOPED_TRACE("backend " + gpu->name() + " f " + std::to_string(f) + (implicit ? " implicit" : " explicit"));
        std::mt19937_64 rng(static_cast<uint64_t>(f) + (implicit ? 1 : 2));
        const int64_t cols = sz(6000, 3000);
        // A few long rows, then the short ones of random_csr.
        HostCsr rows = random_csr(rng, sz(200, 60), cols, 40, 0.1, implicit ? 1.0f : -2.0f, implicit ? 20.0f : 5.0f);
        HostCsr all;
        all.cols = cols;
        std::uniform_real_distribution<float> value(implicit ? 1.0f : -2.0f, implicit ? 20.0f : 5.0f);
        for (int64_t length : {sz(5000, 2500), sz(3000, 1500), int64_t{600}, int64_t{300}, int64_t{129}}) {
          for (int64_t c = 0, taken = 0; c < cols && taken < length; ++c) {
            if (std::uniform_int_distribution<int64_t>(0, cols - 1)(rng) >= length + 50) continue;
            all.indices.push_back(static_cast<int32_t>(c));
            all.values.push_back(value(rng));
            ++taken;
          }
          all.indptr.push_back(static_cast<int64_t>(all.indices.size()));
          ++all.rows;
        }
        for (int64_t u = 0; u < rows.rows; ++u) {
          all.indices.insert(all.indices.end(), rows.indices.begin() + rows.indptr[u],
                             rows.indices.begin() + rows.indptr[u + 1]);
          all.values.insert(all.values.end(), rows.values.begin() + rows.indptr[u], rows.values.begin() + rows.indptr[u + 1]);
          all.indptr.push_back(static_cast<int64_t>(all.indices.size()));
          ++all.rows;
        }
        rows = std::move(all);
        const int64_t n = rows.rows;
        auto y = random_floats(rng, cols * f, -0.5f, 0.5f);
        auto x0 = random_floats(rng, n * f, -0.1f, 0.1f);
        std::vector<float> cg[2];
        Backend* backends[2] = {cpu_.get(), gpu.get()};
        for (int s = 0; s < 2; ++s) {
          Backend& b = *backends[s];
          BackendCsr dr(b, rows, true);
          Buffer<float> dy(b, y), g(b, f * f), x(b, x0);
          b.gram(dy.matrix(cols, f), g.data());
          b.als_solve(dr.view, dy.matrix(cols, f), g.data(), 0.5f, mode, SolverKind::conjugate_gradient, 3,
                      x.matrix(n, f));
          cg[s] = x.to_host();
        }
        EXPECT_TRUE(all_near(cg[0], cg[1], 5e-3, 5e-3)) << "conjugate gradient";
      }
    }
  }
}

// Cholesky rows of every length around f: the GPU solves those shorter than f in the dual
// form, each band of lengths by its own kernel instance (als.cu, als_dual_kernels.cuh), the
// rest in the f x f form.
// f = 136: the bands of 1, 2, 3, 5 and 9 warps and the 544-thread f x f kernel all get rows.
TEST_F(BackendDiffGpu, AlsCholeskyRowsOfEveryLength) {
  for (auto& gpu : gpus_) {
    for (AlsMode mode : {AlsMode::implicit, AlsMode::explicit_ratings}) {
      const bool implicit = mode == AlsMode::implicit;
      const int64_t f = 136;
      SCOPED_TRACE("backend " + gpu->name() + (implicit ? " implicit" : " explicit"));
      std::mt19937_64 rng(implicit ? 41 : 42);
      const int64_t cols = 400;
      std::uniform_real_distribution<float> value(implicit ? 1.0f : -2.0f, implicit ? 20.0f : 5.0f);
      HostCsr rows;
      rows.cols = cols;
      std::vector<int32_t> all(static_cast<std::size_t>(cols));
      std::iota(all.begin(), all.end(), 0);
      std::vector<int64_t> lengths;
      for (int64_t n = 0; n <= 150; n += small_mode() ? 9 : 3) lengths.push_back(n);
      for (int64_t n : {int64_t{55}, int64_t{56}, int64_t{57}, int64_t{72}, int64_t{73}, int64_t{104},
                        int64_t{105}, int64_t{128}, int64_t{129}, int64_t{135}, int64_t{136}})
        lengths.push_back(n);
      std::shuffle(lengths.begin(), lengths.end(), rng);
      for (int64_t length : lengths) {
        std::shuffle(all.begin(), all.end(), rng);
        std::vector<int32_t> c(all.begin(), all.begin() + length);
        std::sort(c.begin(), c.end());
        std::vector<float> v;
        for (std::size_t k = 0; k < c.size(); ++k) v.push_back(implicit && k % 6 == 1 ? 1.0f : value(rng));
        rows.indices.insert(rows.indices.end(), c.begin(), c.end());
        rows.values.insert(rows.values.end(), v.begin(), v.end());
        rows.indptr.push_back(static_cast<int64_t>(rows.indices.size()));
        ++rows.rows;
      }
      const int64_t n = rows.rows;
      auto y = random_floats(rng, cols * f, -0.5f, 0.5f);
      auto x0 = random_floats(rng, n * f, -0.1f, 0.1f);
      std::vector<float> chol[2];
      Backend* backends[2] = {cpu_.get(), gpu.get()};
      for (int s = 0; s < 2; ++s) {
        Backend& b = *backends[s];
        BackendCsr dr(b, rows, true);
        Buffer<float> dy(b, y), g(b, f * f), x(b, x0);
        b.gram(dy.matrix(cols, f), g.data());
        b.als_solve(dr.view, dy.matrix(cols, f), g.data(), 0.5f, mode, SolverKind::cholesky, 0, x.matrix(n, f));
        chol[s] = x.to_host();
      }
      EXPECT_TRUE(all_near(chol[0], chol[1], 2e-3, 2e-3)) << "cholesky";
    }
  }
}

TEST_F(BackendDiffGpu, BprEpoch) {
  for (auto& gpu : gpus_) {
    for (uint64_t seed : kSeeds) {
      SCOPED_TRACE("backend " + gpu->name() + " seed " + std::to_string(seed));
      std::mt19937_64 rng(seed);
      const int64_t users = sz(2000, 50);
      // Enough items that concurrent Hogwild updates rarely collide on one item row; a tiny
      // catalogue makes the GPU's many concurrent warps overwrite each other's steps.
      const int64_t items = 1000;
      const int64_t f = 100;
      HostCsr ui = random_csr(rng, users, items, small_mode() ? 30 : 300, 0.2, 1.0f, 1.0f);
      auto u0 = random_floats(rng, users * f, -0.1f, 0.1f);
      auto i0 = random_floats(rng, items * f, -0.1f, 0.1f);
      const int64_t samples = sz(200000, 5000);
      BprStats stats[2];
      std::vector<float> users_after[2];
      Backend* backends[2] = {cpu_.get(), gpu.get()};
      for (int s = 0; s < 2; ++s) {
        Backend& b = *backends[s];
        BackendCsr rows(b, ui, false);
        Buffer<float> du(b, u0), di(b, i0);
        stats[s] = b.bpr_epoch(rows.view, du.matrix(users, f), di.matrix(items, f), 0.05f, 0.01f, samples, seed);
        users_after[s] = du.to_host();
      }
      EXPECT_EQ(stats[1].samples, samples);
      const double skip_cpu = static_cast<double>(stats[0].skipped) / samples;
      const double skip_gpu = static_cast<double>(stats[1].skipped) / samples;
      EXPECT_NEAR(skip_cpu, skip_gpu, small_mode() ? 0.05 : 0.01);
      const double right_cpu = static_cast<double>(stats[0].correct) / samples;
      const double right_gpu = static_cast<double>(stats[1].correct) / samples;
      // Hogwild on thousands of concurrent warps learns along another path than the CPU threads:
      // only a loose agreement on the share already ranked right.
      // The small size (for memcheck) has too few users and items for Hogwild to mean anything.
      if (!small_mode()) {
        EXPECT_NEAR(right_cpu, right_gpu, 0.15);
      }
      for (float v : users_after[1]) ASSERT_TRUE(std::isfinite(v));
      EXPECT_FALSE(all_near(u0, users_after[1], 1e-7, 0.0)) << "no update happened";
    }
  }
}

// kmeans_assign of rows x (n x d) to the problems' centroids c on backend b.
struct Assignment {
  std::vector<int32_t> labels;
  std::vector<float> best, second;
};
Assignment assign_on(Backend& b, const std::vector<float>& x, const std::vector<float>& c, int64_t n, int64_t d,
                     const std::vector<int64_t>& offsets) {
  const int problems = static_cast<int>(offsets.size()) - 1;
  const int64_t total_k = offsets.back();
  Buffer<float> dx(b, x), dc(b, c), xn(b, n), db(b, n * problems), ds(b, n * problems);
  Buffer<int32_t> dl(b, n * problems);
  b.row_sq_norms(dx.matrix(n, d), xn.data());
  b.kmeans_assign(dx.matrix(n, d), xn.data(), dc.matrix(total_k, d), offsets.data(), problems, dl.data(), db.data(),
                  ds.data());
  return Assignment{dl.to_host(), db.to_host(), ds.to_host()};
}

TEST_F(BackendDiffGpu, KmeansAssignAccumulateFinalize) {
  for (auto& gpu : gpus_) {
    for (uint64_t seed : kSeeds) {
      // d 230: the cuBLAS GEMM + argmin path (above kFusedMaxDims); k 130 spans chunks of the
      // fused kernel.
      for (int64_t d : {int64_t{13}, int64_t{100}, int64_t{230}}) {
        SCOPED_TRACE("backend " + gpu->name() + " seed " + std::to_string(seed) + " d " + std::to_string(d));
        std::mt19937_64 rng(seed);
        const int64_t n = sz(3000, 200);
        const std::vector<int64_t> ks = {1, 2, 5, 17, 64, 130};
        std::vector<int64_t> offsets{0};
        for (int64_t k : ks) offsets.push_back(offsets.back() + k);
        const int problems = static_cast<int>(ks.size());
        const int64_t total_k = offsets.back();
        auto x = random_floats(rng, n * d, -1, 1);
        auto c = random_floats(rng, total_k * d, -1, 1);
        std::vector<double> sums0(static_cast<std::size_t>(total_k * d), 0.25);
        std::vector<double> counts0(static_cast<std::size_t>(total_k), 1.0);
        counts0[3] = 0.0;  // a centroid without rows keeps its value in finalize
        std::fill(sums0.begin() + 3 * d, sums0.begin() + 4 * d, 0.0);
        std::vector<int32_t> labels[2];
        std::vector<float> best[2], second[2], cent[2];
        std::vector<double> sums[2], counts[2], sums_again;
        Backend* backends[2] = {cpu_.get(), gpu.get()};
        for (int s = 0; s < 2; ++s) {
          Backend& b = *backends[s];
          Assignment a = assign_on(b, x, c, n, d, offsets);
          labels[s] = std::move(a.labels);
          best[s] = std::move(a.best);
          second[s] = std::move(a.second);
          // Accumulate from the CPU's labels on both sides: the sums must then agree closely.
          Buffer<float> dx(b, x), dc(b, c);
          Buffer<int32_t> dl(b, labels[0]);
          Buffer<double> dsum(b, sums0), dcount(b, counts0);
          b.kmeans_accumulate(dx.matrix(n, d), dl.data(), offsets.data(), problems, dsum.data(), dcount.data());
          sums[s] = dsum.to_host();
          counts[s] = dcount.to_host();
          b.kmeans_finalize(dsum.data(), dcount.data(), dc.matrix(total_k, d));
          cent[s] = dc.to_host();
          if (s == 1) {
            Buffer<double> again(b, sums0), again_counts(b, counts0);
            b.kmeans_accumulate(dx.matrix(n, d), dl.data(), offsets.data(), problems, again.data(),
                                again_counts.data());
            sums_again = again.to_host();
          }
        }
        // Labels: a mismatch is a near-tie (the CPU's label is as near within tolerance).
        for (int b = 0; b < problems; ++b) {
          for (int64_t i = 0; i < n; ++i) {
            const std::size_t e = static_cast<std::size_t>(b * n + i);
            ASSERT_GE(labels[1][e], 0);
            ASSERT_LT(labels[1][e], ks[b]);
            EXPECT_NEAR(best[0][e], best[1][e], 1e-4 * (1 + best[0][e]));
            EXPECT_NEAR(second[0][e], second[1][e], 1e-4 * (1 + second[0][e]));
            if (labels[0][e] != labels[1][e]) {
              EXPECT_NEAR(best[0][e], second[0][e], 1e-4 * (1 + best[0][e]));
            }
          }
        }
        EXPECT_TRUE(all_near(counts[0], counts[1], 0.0, 0.0)) << "counts";
        EXPECT_TRUE(all_near(sums[0], sums[1], 1e-9, 1e-9)) << "sums";
        EXPECT_EQ(sums[1], sums_again) << "accumulate is not deterministic";
        EXPECT_TRUE(all_near(cent[0], cent[1], 1e-6, 1e-6)) << "finalize";
      }
    }
  }
}

// TF32 distances with the FP32 recheck: the labels must be the CPU's up to FP32 near-ties, as
// on the FP32 path, also where TF32 alone would pick another centroid. Rows and centroids
// around 3 in every coordinate make |x| |c| large against the distances, so TF32's error
// (~2^-8 |x| |c|; split TF32's ~2^-16 |x| |c|) exceeds many gaps between the nearest two;
// uniform data around 0 is the common case. `error` is the mode's bound over |x| |c|.
void expect_fp32_labels(Backend& cpu, Backend& gpu, double (*error)(int64_t d)) {
  for (float offset : {0.0f, 3.0f}) {
    for (int64_t d : {int64_t{13}, int64_t{100}, int64_t{230}}) {
      SCOPED_TRACE("backend " + gpu.description() + " offset " + std::to_string(offset) + " d " + std::to_string(d));
      std::mt19937_64 rng(static_cast<uint64_t>(d) + 7);
      const int64_t n = sz(3000, 300);
      const std::vector<int64_t> ks = {1, 2, 5, 17, 64, 130};
      std::vector<int64_t> offsets{0};
      for (int64_t k : ks) offsets.push_back(offsets.back() + k);
      const int problems = static_cast<int>(ks.size());
      const int64_t total_k = offsets.back();
      auto x = random_floats(rng, n * d, offset - 1, offset + 1);
      auto c = random_floats(rng, total_k * d, offset - 1, offset + 1);
      const Assignment want = assign_on(cpu, x, c, n, d, offsets);
      const Assignment got = assign_on(gpu, x, c, n, d, offsets);
      auto norm = [&](const std::vector<float>& m, int64_t r) {
        double s2 = 0.0;
        for (int64_t j = 0; j < d; ++j) s2 += double{m[r * d + j]} * m[r * d + j];
        return std::sqrt(s2);
      };
      double c_norm_max = 0.0;
      for (int64_t r = 0; r < total_k; ++r) c_norm_max = std::max(c_norm_max, norm(c, r));
      int64_t mismatches = 0;
      for (int b = 0; b < problems; ++b) {
        for (int64_t i = 0; i < n; ++i) {
          const std::size_t e = static_cast<std::size_t>(b * n + i);
          ASSERT_GE(got.labels[e], 0);
          ASSERT_LT(got.labels[e], ks[b]);
          const double slack = error(d) * norm(x, i) * c_norm_max;
          EXPECT_NEAR(want.best[e], got.best[e], 1e-4 * (1 + want.best[e]) + slack) << "problem " << b << " row " << i;
          EXPECT_NEAR(want.second[e], got.second[e], 1e-4 * (1 + want.second[e]) + slack)
              << "problem " << b << " row " << i;
          if (want.labels[e] != got.labels[e]) {
            ++mismatches;
            EXPECT_NEAR(want.best[e], want.second[e], 1e-4 * (1 + want.best[e]))
                << "problem " << b << " row " << i << ": cpu label " << want.labels[e] << ", gpu " << got.labels[e];
          }
        }
      }
      ::testing::Test::RecordProperty("mismatches", static_cast<int>(mismatches));
    }
  }
}

TEST_F(BackendDiffGpu, KmeansAssignTf32KeepsFp32Labels) {
  for (auto& gpu : tf32_gpus())
    expect_fp32_labels(*cpu_, *gpu, [](int64_t d) { return 1.0 / 256.0 + static_cast<double>(d) / 4194304.0; });
}

// COHORT_KMEANS_ASSIGN=split: the distance GEMM over each input's two TF32 parts (kmeans.cu).
TEST_F(BackendDiffGpu, KmeansAssignSplitTf32KeepsFp32Labels) {
  struct SplitAssign {  // set for this test only, also when an assertion ends it early
    SplitAssign() { setenv("COHORT_KMEANS_ASSIGN", "split", 1); }
    ~SplitAssign() { unsetenv("COHORT_KMEANS_ASSIGN"); }
  } split;
  for (auto& gpu : gpus_) {
    expect_fp32_labels(*cpu_, *gpu,
                       [](int64_t d) { return 6.0 / 1048576.0 + 3.0 * static_cast<double>(d) / 4194304.0; });
  }
}

TEST_F(BackendDiffGpu, SumPerProblem) {
  for (auto& gpu : gpus_) {
    std::mt19937_64 rng(5);
    const int64_t n = sz(100003, 1001);
    const int problems = 3;
    auto v = random_floats(rng, n * problems, 0, 10);
    std::vector<double> out[2], again(problems);
    Backend* backends[2] = {cpu_.get(), gpu.get()};
    for (int s = 0; s < 2; ++s) {
      Buffer<float> dv(*backends[s], v);
      out[s].resize(problems);
      backends[s]->sum_per_problem(dv.data(), n, problems, out[s].data());
      if (s == 1) backends[s]->sum_per_problem(dv.data(), n, problems, again.data());
    }
    EXPECT_TRUE(all_near(out[0], out[1], 1e-6, 1e-10));
    EXPECT_EQ(out[1], again);
  }
}

TEST_F(BackendDiffGpu, KmeansPlusPlusSeparatedBlobs) {
  for (auto& gpu : gpus_) {
    for (uint64_t seed : kSeeds) {
      SCOPED_TRACE("backend " + gpu->name() + " seed " + std::to_string(seed));
      // k blobs far apart: greedy D^2 seeding puts exactly one centre in each.
      std::mt19937_64 rng(seed);
      const int k = 7;
      const int64_t per = sz(500, 40);
      const int64_t n = k * per;
      const int64_t d = 13;
      std::vector<float> x(static_cast<std::size_t>(n * d));
      std::normal_distribution<float> noise(0.0f, 0.1f);
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = 0; j < d; ++j) x[i * d + j] = (j == (i / per) % d ? 100.0f : 0.0f) + noise(rng);
      }
      std::vector<float> centres[3];
      Backend& b = *gpu;
      Buffer<float> dx(b, x), xn(b, n);
      b.row_sq_norms(dx.matrix(n, d), xn.data());
      for (int run = 0; run < 2; ++run) {
        Buffer<float> dc(b, k * d);
        b.kmeans_plus_plus(dx.matrix(n, d), xn.data(), k, seed, dc.matrix(k, d));
        centres[run] = dc.to_host();
      }
      EXPECT_EQ(centres[0], centres[1]) << "not deterministic for a seed";
      std::set<int64_t> blobs;
      for (int c = 0; c < k; ++c) {
        // Each centre is a row of x.
        int64_t row = -1;
        for (int64_t i = 0; i < n && row < 0; ++i) {
          if (std::equal(x.begin() + i * d, x.begin() + (i + 1) * d, centres[0].begin() + c * d)) row = i;
        }
        ASSERT_GE(row, 0) << "centre " << c << " is not a row of x";
        blobs.insert(row / per);
      }
      EXPECT_EQ(static_cast<int>(blobs.size()), k);
      // k = 1 works and k > n is refused.
      Buffer<float> one(b, d);
      b.kmeans_plus_plus(dx.matrix(n, d), xn.data(), 1, seed, one.matrix(1, d));
      Buffer<float> too_many(b, (n + 1) * d);
      EXPECT_THROW(b.kmeans_plus_plus(dx.matrix(n, d), xn.data(), static_cast<int>(n + 1), seed,
                                      too_many.matrix(n + 1, d)),
                   Error);
    }
  }
}

TEST_F(BackendDiffGpu, ScoreTopk) {
  for (auto& gpu : gpus_) {
    for (uint64_t seed : kSeeds) {
      // The last shape is the default pipeline's: a 2048-user scoring block over 5000 items.
      struct Shape {
        int64_t rows, items, f;
      };
      for (Shape shape : {Shape{sz(300, 30), sz(1200, 120), 13}, Shape{sz(300, 30), sz(1200, 120), 100},
                          Shape{sz(2048, 64), sz(5000, 300), 64}}) {
        const int64_t f = shape.f;
        const int64_t rows = shape.rows;
        const int64_t items = shape.items;
        SCOPED_TRACE("backend " + gpu->name() + " seed " + std::to_string(seed) + " rows " + std::to_string(rows) +
                     " items " + std::to_string(items) + " f " + std::to_string(f));
        std::mt19937_64 rng(seed);
        const int64_t groups = 4;
        auto uf = random_floats(rng, rows * f, -1, 1);
        auto vf = random_floats(rng, items * f, -1, 1);
        auto dw = random_floats(rng, rows, 0, 1);
        auto gs = random_floats(rng, groups * items, 0, 1);
        auto gw = random_floats(rng, rows, 0, 2);
        std::vector<int32_t> ug(static_cast<std::size_t>(rows));
        for (auto& g : ug) g = static_cast<int32_t>(rng() % groups);
        HostCsr exclude = random_csr(rng, rows, items, items / 2, 0.3, 1, 1);
        for (int variant = 0; variant < 4; ++variant) {
          // 0: dot only, k small; 1: dot + group, k beyond the items left for some rows (up to half
          // the items are excluded); 2: group only; 3: dot products given precomputed, + group.
          const int k = variant == 1 ? static_cast<int>(std::min<int64_t>(items * 3 / 4, 1000)) : 20;
          std::vector<int32_t> idx[2];
          std::vector<float> sc[2];
          Backend* backends[2] = {cpu_.get(), gpu.get()};
          for (int s = 0; s < 2; ++s) {
            Backend& b = *backends[s];
            Buffer<float> du(b, uf), dv(b, vf), ddw(b, dw), dgs(b, gs), dgw(b, gw);
            Buffer<int32_t> dug(b, ug);
            BackendCsr ex(b, exclude, false);
            ScoreTerms t;
            Buffer<float> dots;
            if (variant == 3) {
              dots = Buffer<float>(b, rows * items);
              b.gemm_nt(1.0f, du.matrix(rows, f), dv.matrix(items, f), 0.0f, dots.matrix(rows, items));
              t.dots = dots.matrix(rows, items);
              t.dot_weight = ddw.data();
            } else if (variant != 2) {
              t.user_factors = du.matrix(rows, f);
              t.item_factors = dv.matrix(items, f);
              t.dot_weight = ddw.data();
            }
            if (variant != 0) {
              t.group_scores = dgs.matrix(groups, items);
              t.user_group = dug.data();
              t.group_weight = dgw.data();
            }
            Buffer<int32_t> oi(b, rows * k);
            Buffer<float> os(b, rows * k);
            b.score_topk(t, rows, items, variant == 0 ? CsrView{} : ex.view, k, oi.data(), os.data());
            idx[s] = oi.to_host();
            sc[s] = os.to_host();
          }
          EXPECT_TRUE(topk_match(idx[0], sc[0], idx[1], sc[1], rows, k, 1e-4)) << "variant " << variant;
        }
      }
    }
  }
}

// Every output of score_topk is written: at the default pipeline's block shape each row holds
// k distinct items in [0, items) (or -1 padding), ranked by score, for dot scores that are all
// distinct, all tied (zero factors) and with a group term.
TEST_F(BackendDiffGpu, ScoreTopkWritesEveryRow) {
  for (auto& gpu : gpus_) {
    const int64_t rows = sz(2048, 64), items = sz(5000, 300), f = 64;
    const int k = 20;
    std::mt19937_64 rng(5);
    HostCsr exclude = random_csr(rng, rows, items, 80, 0.1, 1, 1);
    const auto uf = random_floats(rng, rows * f, -1, 1);
    const auto vf = random_floats(rng, items * f, -1, 1);
    const auto gs = random_floats(rng, items, 0, 1);
    for (int variant = 0; variant < 4; ++variant) {
      // 0: random dots; 1: zero user factors (every score tied); 2: group term only; 3: dots, no exclusion
      SCOPED_TRACE("variant " + std::to_string(variant));
      Backend& b = *gpu;
      Buffer<float> du(b, variant == 1 ? std::vector<float>(uf.size(), 0.0f) : uf), dv(b, vf), dgs(b, gs);
      Buffer<int32_t> dug(b, std::vector<int32_t>(static_cast<std::size_t>(rows), 0));
      BackendCsr ex(b, exclude, false);
      ScoreTerms t;
      if (variant != 2) {
        t.user_factors = du.matrix(rows, f);
        t.item_factors = dv.matrix(items, f);
      } else {
        t.group_scores = dgs.matrix(1, items);
        t.user_group = dug.data();
      }
      std::vector<int32_t> sentinel(static_cast<std::size_t>(rows * k), -7);
      Buffer<int32_t> oi(b, sentinel);
      Buffer<float> os(b, rows * k);
      b.score_topk(t, rows, items, variant == 3 ? CsrView{} : ex.view, k, oi.data(), os.data());
      const auto idx = oi.to_host();
      const auto sc = os.to_host();
      int64_t bad_rows = 0, first_bad = -1;
      for (int64_t r = 0; r < rows; ++r) {
        bool ok = true;
        std::set<int32_t> seen;
        for (int j = 0; j < k; ++j) {
          const int32_t i = idx[static_cast<std::size_t>(r * k + j)];
          if (i == -1) continue;
          if (i < 0 || i >= items || !seen.insert(i).second) ok = false;
          if (j > 0 && idx[static_cast<std::size_t>(r * k + j - 1)] >= 0 &&
              sc[static_cast<std::size_t>(r * k + j)] > sc[static_cast<std::size_t>(r * k + j - 1)])
            ok = false;
        }
        if (!ok) {
          ++bad_rows;
          if (first_bad < 0) first_bad = r;
        }
      }
      EXPECT_EQ(bad_rows, 0) << "first bad row " << first_bad << ": "
                             << (first_bad >= 0 ? ::testing::PrintToString(std::vector<int32_t>(
                                                      idx.begin() + first_bad * k, idx.begin() + first_bad * k + k))
                                                : std::string());
    }
  }
}

TEST_F(BackendDiffGpu, KnnScoreTopk) {
  for (auto& gpu : gpus_) {
    for (uint64_t seed : kSeeds) {
      for (int64_t items : {sz(3000, 200), small_mode() ? int64_t{300} : int64_t{60000}, sz(5000, 300)}) {
        SCOPED_TRACE("backend " + gpu->name() + " seed " + std::to_string(seed) + " items " + std::to_string(items));
        std::mt19937_64 rng(seed);
        // 5000 items: the default pipeline's 2048-user scoring block.
        const int64_t users = items == 5000 ? 2048 : sz(200, 30);
        const int neighbours = 25;
        HostCsr ui = random_csr(rng, users, items, 40, 0.1, 0.5f, 3.0f);
        HostCsr exclude = random_csr(rng, users, items, 60, 0.2, 1, 1);
        std::vector<int32_t> nb(static_cast<std::size_t>(items * neighbours));
        std::vector<float> ns(nb.size());
        std::uniform_real_distribution<float> unit(0.0f, 1.0f);
        for (int64_t j = 0; j < items; ++j) {
          for (int t = 0; t < neighbours; ++t) {
            const std::size_t e = static_cast<std::size_t>(j * neighbours + t);
            // Short lists too: -1 padding after a random length.
            nb[e] = t < static_cast<int>(j % neighbours) + 1 ? static_cast<int32_t>(rng() % items) : -1;
            ns[e] = nb[e] >= 0 ? unit(rng) : 0.0f;
          }
        }
        for (int k : {10, 300}) {
          std::vector<int32_t> idx[2];
          std::vector<float> sc[2];
          Backend* backends[2] = {cpu_.get(), gpu.get()};
          for (int s = 0; s < 2; ++s) {
            Backend& b = *backends[s];
            BackendCsr dui(b, ui, true), ex(b, exclude, false);
            Buffer<int32_t> dnb(b, nb), oi(b, users * k);
            Buffer<float> dns(b, ns), os(b, users * k);
            b.knn_score_topk(dui.view, dnb.data(), dns.data(), neighbours, items, ex.view, k, oi.data(), os.data());
            idx[s] = oi.to_host();
            sc[s] = os.to_host();
          }
          EXPECT_TRUE(topk_match(idx[0], sc[0], idx[1], sc[1], users, k, 1e-4)) << "k " << k;
        }
      }
    }
  }
}

TEST_F(BackendDiffGpu, BadInputThrows) {
  for (auto& gpu : gpus_) {
    Backend& b = *gpu;
    EXPECT_EQ(b.name().rfind("cuda:", 0), 0u);
    EXPECT_TRUE(b.on_device());
    // A label outside its problem's k.
    const int64_t n = 10, d = 3;
    std::vector<int64_t> offsets{0, 2};
    Buffer<float> x(b, n * d);
    x.zero();
    Buffer<double> s(b, 2 * d), c(b, 2);
    s.zero();
    c.zero();
    std::vector<int32_t> labels(n, 0);
    labels[4] = 2;
    Buffer<int32_t> dl(b, labels);
    EXPECT_THROW(b.kmeans_accumulate(x.matrix(n, d), dl.data(), offsets.data(), 1, s.data(), c.data()), Error);
    // A user's group out of range.
    const int64_t items = 5;
    Buffer<float> gs(b, 2 * items);
    gs.zero();
    Buffer<int32_t> ug(b, std::vector<int32_t>{0, 7});
    ScoreTerms t;
    t.group_scores = gs.matrix(2, items);
    t.user_group = ug.data();
    Buffer<int32_t> oi(b, 2 * 3);
    Buffer<float> os(b, 2 * 3);
    EXPECT_THROW(b.score_topk(t, 2, items, CsrView{}, 3, oi.data(), os.data()), Error);
    // Not positive definite: explicit ratings with reg = 0 and one rating for f = 3.
    HostCsr one;
    one.rows = 1;
    one.cols = 2;
    one.indptr = {0, 1};
    one.indices = {1};
    one.values = {4.0f};
    BackendCsr rows(b, one, true);
    Buffer<float> y(b, std::vector<float>{1, 0, 0, 0, 1, 0}), xs(b, 3);
    EXPECT_THROW(b.als_solve(rows.view, y.matrix(2, 3), nullptr, 0.0f, AlsMode::explicit_ratings,
                             SolverKind::cholesky, 0, xs.matrix(1, 3)),
                 Error);
    // The same beside rows that are solvable: with G = 0 the dual form is refused and every
    // row takes the f x f form (als.cu); the error names the short row.
    {
      HostCsr mixed;
      mixed.rows = 3;
      mixed.cols = 4;
      mixed.indptr = {0, 4, 8, 9};
      mixed.indices = {0, 1, 2, 3, 0, 1, 2, 3, 2};
      mixed.values = {1, 2, 3, 4, 4, 3, 2, 1, 5};
      BackendCsr mr(b, mixed, true);
      Buffer<float> my(b, std::vector<float>{1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1}), mx(b, 9);
      try {
        b.als_solve(mr.view, my.matrix(4, 3), nullptr, 0.0f, AlsMode::explicit_ratings, SolverKind::cholesky, 0,
                    mx.matrix(3, 3));
        ADD_FAILURE() << "no error for a singular row";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("row 2 "), std::string::npos) << e.what();
      }
    }
  }
}

// Values the ALS operations reject (a confidence below 1 under implicit ALS, a rating that is
// not finite): the same message naming the entry on every backend, and x left as it was.
TEST_F(BackendDiffGpu, AlsRejectsBadValuesLikeTheCpu) {
  struct Case {
    AlsMode mode;
    float bad;
  };
  const Case cases[] = {{AlsMode::implicit, 0.5f},
                        {AlsMode::implicit, std::nanf("")},
                        {AlsMode::explicit_ratings, -INFINITY}};
  HostCsr m;
  m.rows = 3;
  m.cols = 3;
  m.indptr = {0, 2, 3, 3};
  m.indices = {0, 2, 1};
  const std::vector<float> y_host{1, 0, 0, 0, 1, 0, 0, 0, 1};
  const std::vector<float> sentinel(9, 7.0f);
  for (auto& gpu : gpus_) {
    for (const Case& c : cases) {
      for (SolverKind solver : {SolverKind::cholesky, SolverKind::conjugate_gradient}) {
        m.values = {2.0f, 3.0f, c.bad};  // entry 2 is bad
        std::string message[2];
        Backend* backends[2] = {cpu_.get(), gpu.get()};
        for (int i = 0; i < 2; ++i) {
          Backend& b = *backends[i];
          BackendCsr rows(b, m, true);
          Buffer<float> y(b, y_host), gram(b, y_host), x(b, sentinel);
          const float* g = c.mode == AlsMode::implicit ? gram.data() : nullptr;
          try {
            b.als_solve(rows.view, y.matrix(3, 3), g, 0.1f, c.mode, solver, 3, x.matrix(3, 3));
            ADD_FAILURE() << b.name() << ": no error for value " << c.bad;
          } catch (const Error& e) {
            message[i] = e.what();
          }
          EXPECT_EQ(x.to_host(), sentinel) << b.name() << ": x was written";
          EXPECT_THROW(b.als_loss(rows.view, x.matrix(3, 3), y.matrix(3, 3), g, c.mode), Error) << b.name();
        }
        EXPECT_NE(message[0].find("at entry 2 "), std::string::npos) << message[0];
        EXPECT_EQ(message[1], message[0]);
      }
    }
  }
}

#ifdef COHORT_CUDA_EMULATION
// Out of device memory: an Error with Status::out_of_memory that names the size asked and the
// size free, and the backend still works afterwards. (The emulated device's capacity can be
// lowered; a real card's cannot.)
TEST_F(BackendDiffGpu, OutOfMemoryIsAnErrorNamingTheSizes) {
  auto& memory = cuda_emulation::device_memory();
  const std::size_t saved = memory.capacity;
  memory.capacity = memory.used + (std::size_t{3} << 20);  // 3 MiB left
  Backend& gpu = *gpus_.front();
  try {
    Buffer<float> big(gpu, int64_t{2} << 20);  // 8 MiB
    FAIL() << "8 MiB allocated with 3 MiB free";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::out_of_memory);
    const std::string what = e.what();
    EXPECT_NE(what.find("8.0 MiB"), std::string::npos) << what;
    EXPECT_NE(what.find("3.0 MiB free"), std::string::npos) << what;
  }
  Buffer<float> small(gpu, std::vector<float>{1, 2, 3});
  EXPECT_EQ(small.to_host(), (std::vector<float>{1, 2, 3}));

  // An operation whose scratch does not fit (score_topk's 100 x 1000 tile, 400 KB) throws
  // the same way and gives back what it had allocated before failing.
  memory.capacity = saved;
  const int64_t rows = 100, items = 1000, f = 8;
  Buffer<float> users(gpu, std::vector<float>(static_cast<std::size_t>(rows * f), 0.5f));
  Buffer<float> item_factors(gpu, std::vector<float>(static_cast<std::size_t>(items * f), 0.25f));
  Buffer<int32_t> index(gpu, rows * 5);
  Buffer<float> score(gpu, rows * 5);
  ScoreTerms terms;
  terms.user_factors = users.matrix(rows, f);
  terms.item_factors = item_factors.matrix(items, f);
  const std::size_t used_before = memory.used;
  memory.capacity = memory.used + (std::size_t{100} << 10);
  EXPECT_THROW(gpu.score_topk(terms, rows, items, CsrView{}, 5, index.data(), score.data()), Error);
  EXPECT_EQ(memory.used, used_before) << "device memory leaked on the error path";
  memory.capacity = saved;
  gpu.score_topk(terms, rows, items, CsrView{}, 5, index.data(), score.data());
  EXPECT_EQ(index.to_host()[0], 0);  // every score is equal: ties by ascending index
}
#endif

}  // namespace
}  // namespace cohort
