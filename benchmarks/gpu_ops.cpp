// gpu_ops: every heavy Backend operation timed on the GPU and on the CPU with the same inputs,
// printed as one table (operation, size, CPU ms, GPU ms, speedup, achieved rate, share of the
// card's peak). Sizes follow the goals of issue 3; --quick shrinks them to run in seconds.
// --tiny keeps the full run's f, d and k on a few rows: what the CPU emulation of the device
// runs in a minute (the gpu_ops_emulated_tiny test, so that every row of the table is known to
// run before a GPU is at hand).
// The CPU is timed on a share of the rows where the full size would take long; its time is
// then scaled to the full size and the row says so ("cpu~").
//
// Timing: one warm-up run, then the median of several, each between two synchronize() calls.
#ifdef COHORT_CUDA_EMULATION
#include "kernels/cuda/cpu_emulation_runtime.hpp"
#else
#include <cuda_runtime.h>
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "kernels/buffer.hpp"
#include "kernels/cpu/blas_kernels.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cuda/cuda_backend.hpp"
#include "kernels/registry.hpp"

namespace cohort {
namespace {

uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A fast host generator for inputs.
struct Rng {
  uint64_t s;
  uint64_t next() { return mix64(s += 0x9E3779B97F4A7C15ull); }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  float uniform(float lo, float hi) { return lo + static_cast<float>(unit()) * (hi - lo); }
};

std::vector<float> random_floats(int64_t n, float lo, float hi, uint64_t seed) {
  std::vector<float> v(static_cast<std::size_t>(n));
  Rng r{seed};
  for (auto& x : v) x = r.uniform(lo, hi);
  return v;
}

struct HostCsr {
  int64_t rows = 0, cols = 0;
  std::vector<int64_t> indptr{0};
  std::vector<int32_t> indices;
  std::vector<float> values;
  int64_t nnz() const { return static_cast<int64_t>(indices.size()); }
};

// About nnz distinct entries over rows x cols; row lengths and column popularity both skewed
// (a power-law-like catalogue: column c drawn with density ~ 1/sqrt(c)). Each row draws until
// it has its length in distinct columns, so the total is nnz, not nnz less the repeats.
// Columns within a row sorted; values in [1, 10].
HostCsr interactions(int64_t rows, int64_t cols, int64_t nnz, uint64_t seed) {
  HostCsr m;
  m.rows = rows;
  m.cols = cols;
  Rng r{seed};
  const double mean = static_cast<double>(nnz) / rows;
  std::vector<int32_t> row;
  std::vector<char> taken(static_cast<std::size_t>(cols), 0);
  m.indices.reserve(static_cast<std::size_t>(nnz * 11 / 10));
  for (int64_t u = 0; u < rows; ++u) {
    const double u01 = r.unit();
    // Capped at half the catalogue, so the draws for a long row still end quickly.
    const int64_t len =
        std::clamp<int64_t>(static_cast<int64_t>(mean * 0.5 / std::sqrt(1e-4 + u01 * 0.9999)), 1, cols / 2 + 1);
    row.clear();
    while (static_cast<int64_t>(row.size()) < len) {
      const double c = r.unit();
      const auto col = static_cast<int32_t>(std::min<double>(cols - 1, c * c * cols));
      if (taken[col]) continue;
      taken[col] = 1;
      row.push_back(col);
    }
    for (int32_t c : row) taken[c] = 0;
    std::sort(row.begin(), row.end());
    for (int32_t c : row) {
      m.indices.push_back(c);
      m.values.push_back(1.0f + static_cast<float>(r.unit()) * 9.0f);
    }
    m.indptr.push_back(m.nnz());
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

// The first `rows` rows.
HostCsr head(const HostCsr& a, int64_t rows) {
  HostCsr h;
  h.rows = std::min(rows, a.rows);
  h.cols = a.cols;
  h.indptr.assign(a.indptr.begin(), a.indptr.begin() + h.rows + 1);
  h.indices.assign(a.indices.begin(), a.indices.begin() + h.indptr.back());
  h.values.assign(a.values.begin(), a.values.begin() + h.indptr.back());
  return h;
}

struct BackendCsr {
  Buffer<int64_t> indptr;
  Buffer<int32_t> indices;
  Buffer<float> values;
  CsrView view;
  BackendCsr(Backend& b, const HostCsr& m) : indptr(b, m.indptr), indices(b, m.indices), values(b, m.values) {
    view = CsrView{m.rows, m.cols, m.nnz(), indptr.data(), indices.data(), values.data()};
  }
};

double median_ms(Backend& b, int reps, const std::function<void()>& op) {
  b.synchronize();
  op();  // warm-up
  b.synchronize();
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    op();
    b.synchronize();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

struct Peak {
  std::string card;
  double tflops = 0;       // FP32, non-tensor
  double tf32_tflops = 0;  // TF32 tensor cores, dense (0: not known for this card)
  double tbps = 0;         // memory bandwidth
};

Peak device_peak(int device) {
  cudaDeviceProp p{};
  Peak peak;
  if (cudaGetDeviceProperties(&p, device) != cudaSuccess) return peak;
  peak.card = p.name;
  if (peak.card.find("H200") != std::string::npos) {
    peak.tflops = 67.0;
    peak.tf32_tflops = 494.7;
    peak.tbps = 4.8;
  } else if (peak.card.find("H100") != std::string::npos) {
    peak.tflops = 67.0;
    peak.tf32_tflops = 494.7;
    peak.tbps = 3.35;
  } else {
    // Other cards: 128 FP32 lanes per SM (sm_80+ consumer/datacentre varies), DDR bus.
    int clock_khz = 0, mem_khz = 0, bus_bits = 0;
    cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, device);
    cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, device);
    cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, device);
    peak.tflops = p.multiProcessorCount * 128.0 * 2.0 * clock_khz * 1e3 / 1e12;
    peak.tbps = 2.0 * mem_khz * 1e3 * (bus_bits / 8.0) / 1e12;
  }
  return peak;
}

struct Row {
  Row(std::string o, std::string s) : op(std::move(o)), size(std::move(s)) {}
  std::string op, size;
  double cpu_ms = -1;
  bool cpu_scaled = false;
  double gpu_ms = 0;
  double flops = 0;  // per run, 0 when not a FLOP-bound op
  // TF32 tensor-core products per FP32 one (1: TF32, 3: split TF32; 0: FP32): peak% is then
  // against the tensor cores' TF32 peak, counting every product.
  int tf32_products = 0;
  double bytes = 0;  // per run, 0 when not a bandwidth-bound op
  std::string rate;  // a custom rate (samples/s) instead
  std::string goal;
};

class Table {
 public:
  explicit Table(Peak peak) : peak_(std::move(peak)) {}
  void add(Row r) {
    print(r);
    std::fflush(stdout);
    rows_.push_back(std::move(r));
  }
  void header() const {
    std::printf("%-34s %-34s %11s %10s %8s %16s %7s  %s\n", "operation", "size", "cpu ms", "gpu ms", "speedup",
                "achieved", "peak%", "goal");
    std::fflush(stdout);
  }

 private:
  void print(const Row& r) const {
    char cpu[32] = "-";
    char speed[32] = "-";
    if (r.cpu_ms >= 0) {
      std::snprintf(cpu, sizeof cpu, "%s%.2f", r.cpu_scaled ? "~" : "", r.cpu_ms);
      std::snprintf(speed, sizeof speed, "%.1fx", r.cpu_ms / r.gpu_ms);
    }
    char rate[48] = "-";
    char share[16] = "-";
    if (r.flops > 0) {
      const double tf = r.flops / (r.gpu_ms * 1e-3) / 1e12;
      std::snprintf(rate, sizeof rate, "%.2f TFLOP/s", tf);
      if (r.tf32_products > 0) {
        if (peak_.tf32_tflops > 0)
          std::snprintf(share, sizeof share, "%.0f%%t", 100.0 * tf * r.tf32_products / peak_.tf32_tflops);
      } else if (peak_.tflops > 0) {
        std::snprintf(share, sizeof share, "%.0f%%", 100.0 * tf / peak_.tflops);
      }
    } else if (r.bytes > 0) {
      const double tb = r.bytes / (r.gpu_ms * 1e-3) / 1e12;
      std::snprintf(rate, sizeof rate, "%.0f GB/s", tb * 1e3);
      if (peak_.tbps > 0) std::snprintf(share, sizeof share, "%.0f%%", 100.0 * tb / peak_.tbps);
    } else if (!r.rate.empty()) {
      std::snprintf(rate, sizeof rate, "%s", r.rate.c_str());
    }
    std::printf("%-34s %-34s %11s %10.2f %8s %16s %7s  %s\n", r.op.c_str(), r.size.c_str(), cpu, r.gpu_ms, speed, rate,
                share, r.goal.c_str());
    std::fflush(stdout);
  }
  Peak peak_;
  std::vector<Row> rows_;
};

std::string dims(std::initializer_list<int64_t> v, const char* sep = " x ") {
  std::string s;
  for (int64_t x : v) {
    if (!s.empty()) s += sep;
    s += std::to_string(x);
  }
  return s;
}

struct Sizes {
  int64_t users, items, nnz, f;
  int64_t km_n, km_d, big_n, big_d, big_k;
  int64_t score_users;
  int reps;
};

// The FLOPs of one Cholesky half-step over `rows` as the GPU solves it: a row of n nonzeros
// forms and factors its f x f system (n f^2 + f^3 / 3), or with `dual` and n < f the n x n
// one (n^2 f + n^3 / 3, plus 4 n f for its right side and x, and once 4 y_rows f^2 for the
// GEMMs that give Z and W: kernels/cuda/als_dual_kernels.cuh).
double cholesky_half_flops(const HostCsr& rows, int64_t y_rows, int64_t f, bool dual) {
  double flops = 0;
  bool any_dual = false;
  for (int64_t u = 0; u < rows.rows; ++u) {
    const double n = static_cast<double>(rows.indptr[u + 1] - rows.indptr[u]);
    const double fd = static_cast<double>(f);
    if (n == 0) continue;
    if (dual && n < fd && n <= 256) {  // 256: kDualMaxNnz, kernels/cuda/als_dual_kernels.cuh
      flops += n * n * fd + n * n * n / 3.0 + 4.0 * n * fd;
      any_dual = true;
    } else {
      flops += n * fd * fd + fd * fd * fd / 3.0;
    }
  }
  if (any_dual) flops += 4.0 * static_cast<double>(y_rows) * static_cast<double>(f * f);
  return flops;
}

enum class Scale { full, quick, tiny };

// tf32: k-means distances on TF32 tensor cores (--tf32).
std::unique_ptr<Backend> make_gpu_backend(bool tf32 = false) {
#ifdef COHORT_CUDA_EMULATION
  return make_cuda_backend(0, tf32);  // the emulated backend; the registry knows only the real one
#else
  BackendOptions options;
  options.tf32 = tf32;
  return make_backend("cuda:0", options);
#endif
}

void run(Scale scale) {
  const bool quick = scale != Scale::full;
  const Sizes z = scale == Scale::full    ? Sizes{140000, 20000, 10000000, 128, 1000000, 64, 1000000, 128, 1024, 100000, 5}
                  : scale == Scale::quick ? Sizes{14000, 2000, 1000000, 128, 100000, 64, 100000, 128, 256, 10000, 3}
                                          : Sizes{300, 120, 6000, 128, 1500, 64, 1500, 128, 1024, 200, 1};
  auto gpu = make_gpu_backend();
  auto cpu = make_cpu_backend(0);
  Peak peak = device_peak(0);
  std::printf("gpu: %s (peak %.0f TFLOP/s FP32, %.0f TFLOP/s TF32 tensor, %.2f TB/s)\ncpu: %s\n%s sizes; cpu~ = "
              "timed on a share of the rows and scaled to the full size; peak%%t = share of the TF32 tensor peak, "
              "counting each TF32 product (three for split TF32)\n\n",
              gpu->description().c_str(), peak.tflops, peak.tf32_tflops, peak.tbps, cpu->description().c_str(),
              scale == Scale::full ? "full" : scale == Scale::quick ? "quick" : "tiny");
  Table table(peak);
  table.header();

  // ---- dense ----
  {
    const int64_t m = scale == Scale::tiny ? 256 : quick ? 2048 : 8192, n = m, k = 128;
    auto a = random_floats(m * k, -1, 1, 1), b = random_floats(n * k, -1, 1, 2);
    Row r{"gemm_nt", dims({m, n, k})};
    for (Backend* be : {cpu.get(), gpu.get()}) {
      Buffer<float> da(*be, a), db(*be, b), dc(*be, m * n);
      const double ms = median_ms(*be, z.reps, [&] {
        be->gemm_nt(1.0f, da.matrix(m, k), db.matrix(n, k), 0.0f, dc.matrix(m, n));
      });
      (be == gpu.get() ? r.gpu_ms : r.cpu_ms) = ms;
    }
    r.flops = 2.0 * m * n * k;
    table.add(r);
  }

  // ---- iALS: 140k users x 20k items, 10M nnz, f = 128 ----
  const HostCsr ui = interactions(z.users, z.items, z.nnz, 7);
  const HostCsr iu = transpose(ui);
  const int64_t f = z.f;
  const std::string als_size = dims({ui.rows, ui.cols}) + ", " + std::to_string(ui.nnz()) + " nnz, f " +
                               std::to_string(f);
  {
    auto yu = random_floats(ui.rows * f, -0.1f, 0.1f, 3), yi = random_floats(ui.cols * f, -0.1f, 0.1f, 4);
    // One iteration = gram + solve for the users, then for the items.
    auto iteration = [&](Backend& be, BackendCsr& rows_u, BackendCsr& rows_i, Buffer<float>& xu, Buffer<float>& xi,
                         Buffer<float>& g, SolverKind solver, int64_t nu, int64_t ni) {
      be.gram(xi.matrix(ni, f), g.data());
      be.als_solve(rows_u.view, xi.matrix(ni, f), g.data(), 0.1f, AlsMode::implicit, solver, 3, xu.matrix(nu, f));
      be.gram(xu.matrix(nu, f), g.data());
      be.als_solve(rows_i.view, xu.matrix(nu, f), g.data(), 0.1f, AlsMode::implicit, solver, 3, xi.matrix(ni, f));
    };
    for (SolverKind solver : {SolverKind::conjugate_gradient, SolverKind::cholesky}) {
      const bool cg = solver == SolverKind::conjugate_gradient;
      Row r{cg ? "iALS iteration (CG, 3 steps)" : "iALS iteration (Cholesky)", als_size};
      {
        BackendCsr du(*gpu, ui), di(*gpu, iu);
        Buffer<float> xu(*gpu, yu), xi(*gpu, yi), g(*gpu, f * f);
        r.gpu_ms = median_ms(*gpu, z.reps, [&] { iteration(*gpu, du, di, xu, xi, g, solver, ui.rows, ui.cols); });
      }
      {
        // CPU: the same half-steps on a share of the users and of the items, scaled.
        const double share = quick ? 0.25 : (cg ? 0.05 : 0.02);
        const HostCsr su = head(ui, std::max<int64_t>(1, static_cast<int64_t>(ui.rows * share)));
        const HostCsr si = head(iu, std::max<int64_t>(1, static_cast<int64_t>(iu.rows * share)));
        BackendCsr du(*cpu, su), di(*cpu, si);
        Buffer<float> xu(*cpu, yu), xi(*cpu, yi), g(*cpu, f * f);
        const double ms = median_ms(*cpu, 1, [&] {
          cpu->gram(xi.matrix(ui.cols, f), g.data());
          cpu->als_solve(du.view, xi.matrix(ui.cols, f), g.data(), 0.1f, AlsMode::implicit, solver, 3,
                         xu.matrix(su.rows, f));
          cpu->gram(xu.matrix(ui.rows, f), g.data());
          cpu->als_solve(di.view, xu.matrix(ui.rows, f), g.data(), 0.1f, AlsMode::implicit, solver, 3,
                         xi.matrix(si.rows, f));
        });
        r.cpu_ms = ms / share;
        r.cpu_scaled = true;
      }
      const double nnz2 = 2.0 * ui.nnz();  // both half-steps
      const double rows2 = static_cast<double>(ui.rows + ui.cols);
      const double direct_flops = cholesky_half_flops(ui, ui.cols, f, false) + cholesky_half_flops(iu, ui.rows, f, false);
      r.flops = cg ? 4.0 * (4.0 * f * nnz2 + 2.0 * f * f * rows2)
                   : cholesky_half_flops(ui, ui.cols, f, true) + cholesky_half_flops(iu, ui.rows, f, true);
      auto goal = [&](double gpu_ms) {
        return cg ? std::string("< 20 ms per iteration")
                  : "15 iterations < 500 ms: " + std::to_string(15 * gpu_ms) + " ms";
      };
      r.goal = goal(r.gpu_ms);
      table.add(r);
      // The same iteration on the GPU with another path chosen by an environment variable.
      auto other_path = [&](const std::string& name, const char* variable, const char* value, int reps,
                            bool with_goal, double flops = -1) {
        Row row{name, als_size};
        BackendCsr du(*gpu, ui), di(*gpu, iu);
        Buffer<float> xu(*gpu, yu), xi(*gpu, yi), g(*gpu, f * f);
        setenv(variable, value, 1);
        row.gpu_ms = median_ms(*gpu, reps, [&] { iteration(*gpu, du, di, xu, xi, g, solver, ui.rows, ui.cols); });
        unsetenv(variable);
        row.flops = flops >= 0 ? flops : r.flops;
        if (with_goal) row.goal = goal(row.gpu_ms);
        table.add(row);
      };
      if (cg) {
        // Session 4's CG: a block for every row, short ones too; session 5's: the longest rows
        // a block each, not cut into chunks (als.cu).
        other_path("iALS iteration (CG, block kernel for every row)", "COHORT_ALS_CG", "block", z.reps, false);
        other_path("iALS iteration (CG, long rows not split: COHORT_ALS_CG_SPLIT=off)", "COHORT_ALS_CG_SPLIT", "off",
                   z.reps, true);
      } else {
        // The tiled kernel built for 2 blocks a multiprocessor (the default until session 7);
        // session 1's kernel (element-wise build, column-by-column factoring), on the same
        // input (als.cu).
        // Every row in the f x f form (the default until session 9: rows shorter than f now
        // solve the n x n dual system), then the users' half-step alone in each form.
        other_path("iALS iteration (Cholesky, f x f for every row: COHORT_ALS_DUAL=off)", "COHORT_ALS_DUAL", "off",
                   z.reps, true, direct_flops);
        for (const bool dual : {true, false}) {
          Row half{dual ? "iALS users half-step (Cholesky)" : "iALS users half-step (Cholesky, COHORT_ALS_DUAL=off)", als_size};
          BackendCsr du(*gpu, ui);
          Buffer<float> xu(*gpu, yu), xi(*gpu, yi), g(*gpu, f * f);
          gpu->gram(xi.matrix(ui.cols, f), g.data());
          if (!dual) setenv("COHORT_ALS_DUAL", "off", 1);
          half.gpu_ms = median_ms(*gpu, z.reps, [&] {
            gpu->als_solve(du.view, xi.matrix(ui.cols, f), g.data(), 0.1f, AlsMode::implicit, SolverKind::cholesky, 3,
                           xu.matrix(ui.rows, f));
          });
          unsetenv("COHORT_ALS_DUAL");
          half.flops = cholesky_half_flops(ui, ui.cols, f, dual);
          table.add(half);
        }
        // The f x f systems' build on the tensor cores in split TF32 (session 9, opt-in): the
        // items' half-step is all f x f rows of hundreds to tens of thousands of nonzeros.
        other_path("iALS iteration (Cholesky, tensor-core build: COHORT_ALS_BUILD=tensor)", "COHORT_ALS_BUILD", "tensor",
                   z.reps, true);
        other_path("iALS iteration (Cholesky, 2 blocks/SM: COHORT_ALS_CHOLESKY=tiled2)", "COHORT_ALS_CHOLESKY",
                   "tiled2", z.reps, true);
        other_path("iALS iteration (Cholesky, general kernel)", "COHORT_ALS_CHOLESKY", "general", 1, false,
                   direct_flops);
      }
    }
    // f = 256, the widest the register-tiled Cholesky serves: its 544 threads leave ptxas 96
    // registers, so it spills (192 bytes a thread). Timed against the general kernel on a
    // tenth of the input, GPU only, to choose between them for 128 < f <= 256.
    {
      const int64_t wide = 256;
      const HostCsr su = interactions(z.users / 10, z.items, z.nnz / 10, 17);
      const HostCsr si = transpose(su);
      const std::string size = dims({su.rows, su.cols}) + ", " + std::to_string(su.nnz()) + " nnz, f 256";
      auto yu = random_floats(su.rows * wide, -0.1f, 0.1f, 18), yi = random_floats(su.cols * wide, -0.1f, 0.1f, 19);
      for (const bool general : {false, true}) {
        // The general kernel solves every row in the f x f form; the default, rows shorter than
        // f in the dual one.
        const double flops = cholesky_half_flops(su, su.cols, wide, !general) +
                             cholesky_half_flops(si, su.rows, wide, !general);
        Row w{general ? "iALS iteration (Cholesky, general) f 256" : "iALS iteration (Cholesky) f 256", size};
        BackendCsr du(*gpu, su), di(*gpu, si);
        Buffer<float> xu(*gpu, yu), xi(*gpu, yi), g(*gpu, wide * wide);
        if (general) setenv("COHORT_ALS_CHOLESKY", "general", 1);
        w.gpu_ms = median_ms(*gpu, 1, [&] {
          gpu->gram(xi.matrix(su.cols, wide), g.data());
          gpu->als_solve(du.view, xi.matrix(su.cols, wide), g.data(), 0.1f, AlsMode::implicit, SolverKind::cholesky, 3,
                         xu.matrix(su.rows, wide));
          gpu->gram(xu.matrix(su.rows, wide), g.data());
          gpu->als_solve(di.view, xu.matrix(su.rows, wide), g.data(), 0.1f, AlsMode::implicit, SolverKind::cholesky, 3,
                         xi.matrix(su.cols, wide));
        });
        unsetenv("COHORT_ALS_CHOLESKY");
        w.flops = flops;
        table.add(w);
      }
    }
  }

  // ---- BPR ----
  {
    const int64_t samples = scale == Scale::tiny ? 20000 : quick ? 2000000 : 20000000;
    auto yu = random_floats(ui.rows * f, -0.1f, 0.1f, 5), yi = random_floats(ui.cols * f, -0.1f, 0.1f, 6);
    Row r{"bpr_epoch", als_size + ", " + std::to_string(samples) + " samples"};
    {
      BackendCsr d(*gpu, ui);
      Buffer<float> xu(*gpu, yu), xi(*gpu, yi);
      uint64_t seed = 1;
      r.gpu_ms = median_ms(*gpu, z.reps, [&] {
        gpu->bpr_epoch(d.view, xu.matrix(ui.rows, f), xi.matrix(ui.cols, f), 0.01f, 0.001f, samples, seed++);
      });
    }
    {
      BackendCsr d(*cpu, ui);
      Buffer<float> xu(*cpu, yu), xi(*cpu, yi);
      const int64_t cpu_samples = samples / 10;
      r.cpu_ms = 10.0 * median_ms(*cpu, 1, [&] {
        cpu->bpr_epoch(d.view, xu.matrix(ui.rows, f), xi.matrix(ui.cols, f), 0.01f, 0.001f, cpu_samples, 3);
      });
      r.cpu_scaled = true;
    }
    char rate[48];
    std::snprintf(rate, sizeof rate, "%.2e samples/s", samples / (r.gpu_ms * 1e-3));
    r.rate = rate;
    r.goal = ">= 2e8 samples/s";
    table.add(r);
  }

  // ---- item-item cosine top-100 over the interactions ----
  {
    const int k = 100;
    Row r{"topk_cosine items, k 100", dims({iu.rows, iu.cols}) + ", " + std::to_string(iu.nnz()) + " nnz"};
    Row ref{"topk_cosine (cuSPARSE reference)", ""};
    {
      BackendCsr a(*gpu, iu), at(*gpu, ui);
      Buffer<int32_t> oi(*gpu, iu.rows * k);
      Buffer<float> os(*gpu, iu.rows * k);
      r.gpu_ms = median_ms(*gpu, z.reps, [&] {
        gpu->topk_cosine(a.view, at.view, 0, iu.rows, k, true, oi.data(), os.data());
      });
      // The reference forms the whole product: time it on a row range that fits.
      const int64_t ref_rows = std::min<int64_t>(iu.rows, quick ? iu.rows : 2000);
      ref.size = std::to_string(ref_rows) + " of the rows";
      ref.gpu_ms = median_ms(*gpu, 1, [&] {
        cuda_topk_cosine_reference(*gpu, a.view, at.view, 0, ref_rows, k, true, oi.data(), os.data());
      });
    }
    {
      BackendCsr a(*cpu, iu), at(*cpu, ui);
      const int64_t rows = std::max<int64_t>(1, iu.rows / (quick ? 4 : 20));
      Buffer<int32_t> oi(*cpu, rows * k);
      Buffer<float> os(*cpu, rows * k);
      r.cpu_ms = static_cast<double>(iu.rows) / rows * median_ms(*cpu, 1, [&] {
        cpu->topk_cosine(a.view, at.view, 0, rows, k, true, oi.data(), os.data());
      });
      r.cpu_scaled = true;
    }
    r.goal = "< 500 ms";
    table.add(r);
    table.add(ref);
  }

  // ---- batched k-means ----
  auto tf32_gpu = make_gpu_backend(true);
  auto kmeans_rows = [&](const std::string& name, int64_t n, int64_t d, const std::vector<int64_t>& ks,
                         const std::string& goal) {
    std::vector<int64_t> offsets{0};
    for (int64_t k : ks) offsets.push_back(offsets.back() + k);
    const int problems = static_cast<int>(ks.size());
    const int64_t total_k = offsets.back();
    auto x = random_floats(n * d, -1, 1, 8);
    auto c = random_floats(total_k * d, -1, 1, 9);
    Row assign{name + ": assign", dims({n, d}) + ", total k " + std::to_string(total_k)};
    Row iter{name + ": iteration", assign.size};
    // The default assignment (cuBLAS GEMM + argmin) beside the fused kernel, which an H200
    // measured slower (opt-in, kmeans.cu), and --tf32.
    Row fused_assign{name + ": assign, fused kernel", assign.size};
    Row tf32_assign{name + ": assign, --tf32", assign.size};
    Row tf32_iter{name + ": iteration, --tf32", assign.size};
    // Each input as two TF32 parts, labels kept FP32's (opt-in, kmeans.cu): the MMAs and the
    // argmin in one kernel (split; d <= 192), and one cuBLAS GEMM over 3d columns (split-gemm).
    // The fused kernel stages its centroids split or in FP32 by occupancy; both are timed.
    Row split_assign{name + ": assign, split TF32 fused (COHORT_KMEANS_ASSIGN=split)", assign.size};
    Row split_presplit{name + ": assign, split TF32 fused, chunks presplit", assign.size};
    Row split_raw{name + ": assign, split TF32 fused, chunks in FP32", assign.size};
    Row split_iter{name + ": iteration, split TF32 fused", assign.size};
    Row split_gemm_assign{name + ": assign, split TF32 GEMM (COHORT_KMEANS_ASSIGN=split-gemm)", assign.size};
    std::vector<int32_t> split_labels, split_gemm_labels;
    // The assignment's FP32 GEMM alone, in the row blocks kmeans.cu cuts (64M floats of
    // distances): the assign row minus this is the argmin's share.
    Row gemm_only{name + ": the distance GEMM alone (FP32)", assign.size};
    // The sums before session 6: each problem's rows gathered in one band (kmeans.cu).
    Row one_band_iter{name + ": iteration, sums in one band (COHORT_KMEANS_BANDS=off)", assign.size};
    std::vector<int32_t> first_labels[2];  // the FP32 GPU's and the TF32 GPU's, from c
    for (Backend* be : {gpu.get(), tf32_gpu.get(), cpu.get()}) {
      const bool on_gpu = be != cpu.get();
      const bool tf32 = be == tf32_gpu.get();
      // The CPU on a share of the rows.
      const int64_t rows = on_gpu ? n : std::max<int64_t>(1, n / (quick ? 2 : 20));
      Buffer<float> dx(*be, std::vector<float>(x.begin(), x.begin() + rows * d)), dc(*be, c), xn(*be, rows);
      Buffer<float> best(*be, rows * problems);
      Buffer<int32_t> labels(*be, rows * problems);
      Buffer<double> sums(*be, total_k * d), counts(*be, total_k);
      be->row_sq_norms(dx.matrix(rows, d), xn.data());
      auto do_assign = [&] {
        be->kmeans_assign(dx.matrix(rows, d), xn.data(), dc.matrix(total_k, d), offsets.data(), problems,
                          labels.data(), best.data(), nullptr);
      };
      if (on_gpu) {
        do_assign();
        first_labels[tf32 ? 1 : 0] = labels.to_host();
        if (!tf32) {  // from the same centroids: the iterations below move them
          setenv("COHORT_KMEANS_ASSIGN", "split", 1);
          do_assign();
          split_labels = labels.to_host();
          setenv("COHORT_KMEANS_ASSIGN", "split-gemm", 1);
          do_assign();
          split_gemm_labels = labels.to_host();
          unsetenv("COHORT_KMEANS_ASSIGN");
        }
      }
      const double scale = static_cast<double>(n) / rows;
      if (on_gpu && !tf32) {
        const int64_t block = std::clamp<int64_t>((int64_t{64} << 20) / total_k, 1, rows);
        Buffer<float> dots(*be, block * total_k);
        gemm_only.gpu_ms = median_ms(*be, z.reps, [&] {
          for (int64_t begin = 0; begin < rows; begin += block) {
            const int64_t part = std::min(block, rows - begin);
            be->gemm_nt(-2.0f, dc.matrix(total_k, d), dx.matrix(rows, d).rows_range(begin, begin + part), 0.0f,
                        MatrixView<float>(dots.data(), total_k, part, part));
          }
        });
      }
      if (on_gpu && !tf32 && d <= 192) {  // the fused kernel's limit (kFusedMaxDims)
        setenv("COHORT_KMEANS_ASSIGN", "fused", 1);
        fused_assign.gpu_ms = median_ms(*be, z.reps, do_assign);
        unsetenv("COHORT_KMEANS_ASSIGN");
      }
      const double a_ms = median_ms(*be, on_gpu ? z.reps : 1, do_assign) * scale;
      auto do_iteration = [&] {
        do_assign();
        sums.zero();
        counts.zero();
        be->kmeans_accumulate(dx.matrix(rows, d), labels.data(), offsets.data(), problems, sums.data(), counts.data());
        be->kmeans_finalize(sums.data(), counts.data(), dc.matrix(total_k, d));
      };
      if (on_gpu && !tf32) {
        setenv("COHORT_KMEANS_BANDS", "off", 1);
        one_band_iter.gpu_ms = median_ms(*be, z.reps, do_iteration);
        unsetenv("COHORT_KMEANS_BANDS");
        setenv("COHORT_KMEANS_ASSIGN", "split", 1);
        split_assign.gpu_ms = median_ms(*be, z.reps, do_assign);
        split_iter.gpu_ms = median_ms(*be, z.reps, do_iteration);
        for (Row* r : {&split_presplit, &split_raw}) {
          setenv("COHORT_KMEANS_SPLIT_STAGING", r == &split_raw ? "raw" : "presplit", 1);
          r->gpu_ms = median_ms(*be, z.reps, do_assign);
        }
        unsetenv("COHORT_KMEANS_SPLIT_STAGING");
        setenv("COHORT_KMEANS_ASSIGN", "split-gemm", 1);
        split_gemm_assign.gpu_ms = median_ms(*be, z.reps, do_assign);
        unsetenv("COHORT_KMEANS_ASSIGN");
      }
      const double i_ms = median_ms(*be, on_gpu ? z.reps : 1, do_iteration) * scale;
      if (tf32) {
        tf32_assign.gpu_ms = a_ms;
        tf32_iter.gpu_ms = i_ms;
        continue;
      }
      (on_gpu ? assign.gpu_ms : assign.cpu_ms) = a_ms;
      (on_gpu ? iter.gpu_ms : iter.cpu_ms) = i_ms;
      assign.cpu_scaled = iter.cpu_scaled = rows < n || assign.cpu_scaled;
    }
    assign.flops = 2.0 * n * total_k * d;
    fused_assign.flops = assign.flops;
    tf32_assign.flops = assign.flops;
    split_assign.flops = assign.flops;
    split_gemm_assign.flops = assign.flops;
    split_presplit.flops = split_raw.flops = assign.flops;
    tf32_assign.tf32_products = 1;
    split_assign.tf32_products = split_presplit.tf32_products = split_raw.tf32_products = 3;
    split_gemm_assign.tf32_products = 3;
    gemm_only.flops = assign.flops;
    iter.goal = goal;
    tf32_iter.goal = goal;
    split_iter.goal = goal;
    table.add(assign);
    table.add(gemm_only);
    table.add(fused_assign);
    table.add(tf32_assign);
    table.add(split_assign);
    table.add(split_presplit);
    table.add(split_raw);
    table.add(split_gemm_assign);
    table.add(iter);
    table.add(one_band_iter);
    table.add(tf32_iter);
    table.add(split_iter);
    auto report_differences = [&](const char* mode, const std::vector<int32_t>& other) {
      int64_t differ = 0;
      for (std::size_t e = 0; e < first_labels[0].size() && e < other.size(); ++e)
        differ += first_labels[0][e] != other[e];
      std::printf("  %s: %lld of %zu labels differ between %s and FP32 (FP32 near-ties only)\n", name.c_str(),
                  static_cast<long long>(differ), first_labels[0].size(), mode);
    };
    report_differences("--tf32", first_labels[1]);
    report_differences("split TF32 fused", split_labels);
    report_differences("split TF32 GEMM", split_gemm_labels);
  };
  {
    std::vector<int64_t> sweep;
    for (int64_t k = 2; k <= 64; ++k) sweep.push_back(k);
    kmeans_rows("k-means sweep k=2..64", z.km_n, z.km_d, sweep, "< 10 ms per iteration");
    kmeans_rows("k-means k=" + std::to_string(z.big_k), z.big_n, z.big_d, {z.big_k}, "~4 ms per iteration (k=1024)");
  }
  {
    const int64_t n = z.big_n, d = z.big_d;
    const int k = quick ? 64 : 256;
    auto x = random_floats(n * d, -1, 1, 10);
    Row r{"kmeans_plus_plus k=" + std::to_string(k), dims({n, d})};
    for (Backend* be : {gpu.get(), cpu.get()}) {
      const bool on_gpu = be == gpu.get();
      const int64_t rows = on_gpu ? n : std::max<int64_t>(k, n / (quick ? 2 : 20));
      Buffer<float> dx(*be, std::vector<float>(x.begin(), x.begin() + rows * d)), xn(*be, rows), c(*be, k * d);
      be->row_sq_norms(dx.matrix(rows, d), xn.data());
      const double ms = median_ms(*be, 1, [&] {
        be->kmeans_plus_plus(dx.matrix(rows, d), xn.data(), k, 42, c.matrix(k, d));
      }) * static_cast<double>(n) / rows;
      (on_gpu ? r.gpu_ms : r.cpu_ms) = ms;
      if (!on_gpu) r.cpu_scaled = rows < n;
    }
    table.add(r);
  }

  // ---- scoring ----
  {
    const int k = 100;
    const int64_t users = z.score_users;
    auto uf = random_floats(users * f, -1, 1, 11), vf = random_floats(ui.cols * f, -1, 1, 12);
    const HostCsr seen = head(ui, users);
    Row r{"score_topk k 100", dims({users, ui.cols}) + ", f " + std::to_string(f)};
    for (Backend* be : {gpu.get(), cpu.get()}) {
      const bool on_gpu = be == gpu.get();
      const int64_t rows = on_gpu ? users : std::max<int64_t>(1, users / (quick ? 2 : 20));
      const HostCsr ex = head(seen, rows);
      BackendCsr dex(*be, ex);
      Buffer<float> du(*be, std::vector<float>(uf.begin(), uf.begin() + rows * f)), dv(*be, vf);
      Buffer<int32_t> oi(*be, rows * k);
      Buffer<float> os(*be, rows * k);
      ScoreTerms t;
      t.user_factors = du.matrix(rows, f);
      t.item_factors = dv.matrix(ui.cols, f);
      const double ms = median_ms(*be, on_gpu ? z.reps : 1, [&] {
        be->score_topk(t, rows, ui.cols, dex.view, k, oi.data(), os.data());
      }) * static_cast<double>(users) / rows;
      (on_gpu ? r.gpu_ms : r.cpu_ms) = ms;
      if (!on_gpu) r.cpu_scaled = rows < users;
    }
    r.flops = 2.0 * users * ui.cols * f;
    table.add(r);

    const int neighbours = 100;
    std::vector<int32_t> nb(static_cast<std::size_t>(ui.cols * neighbours));
    std::vector<float> ns(nb.size());
    Rng rng{13};
    for (std::size_t e = 0; e < nb.size(); ++e) {
      nb[e] = static_cast<int32_t>(rng.next() % static_cast<uint64_t>(ui.cols));
      ns[e] = static_cast<float>(rng.unit());
    }
    Row kr{"knn_score_topk k 100", dims({users, ui.cols}) + ", 100 neighbours"};
    for (Backend* be : {gpu.get(), cpu.get()}) {
      const bool on_gpu = be == gpu.get();
      const int64_t rows = on_gpu ? users : std::max<int64_t>(1, users / (quick ? 2 : 20));
      const HostCsr part = head(seen, rows);
      BackendCsr dui(*be, part);
      Buffer<int32_t> dnb(*be, nb), oi(*be, rows * k);
      Buffer<float> dns(*be, ns), os(*be, rows * k);
      const double ms = median_ms(*be, on_gpu ? z.reps : 1, [&] {
        be->knn_score_topk(dui.view, dnb.data(), dns.data(), neighbours, ui.cols, dui.view, k, oi.data(), os.data());
      }) * static_cast<double>(users) / rows;
      (on_gpu ? kr.gpu_ms : kr.cpu_ms) = ms;
      if (!on_gpu) kr.cpu_scaled = rows < users;
    }
    table.add(kr);
  }
}

}  // namespace
}  // namespace cohort

int main(int argc, char** argv) {
  cohort::cpu::reexec_with_faster_blas(argv);
  cohort::Scale scale = cohort::Scale::full;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      scale = cohort::Scale::quick;
    } else if (std::strcmp(argv[i], "--tiny") == 0) {
      scale = cohort::Scale::tiny;
    } else {
      std::fprintf(stderr, "usage: gpu_ops [--quick | --tiny]\n");
      return 2;
    }
  }
#ifndef COHORT_CUDA_EMULATION
  if (cohort::cuda_device_count() == 0) {
    std::printf("gpu_ops: no GPU visible; nothing to time\n");
    return 0;
  }
#endif
  try {
    cohort::run(scale);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gpu_ops: %s\n", e.what());
    return 1;
  }
  return 0;
}
