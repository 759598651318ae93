#include "kernels/cpu/cpu_backend.hpp"

#include <omp.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>

#include "kernels/cpu/blas_kernels.hpp"
#include "kernels/cpu/cpu_ops.hpp"
#include "kernels/error.hpp"

namespace cohort {
namespace {

// Host memory; operations run on the calling thread with `threads_` OpenMP threads.
class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads) : threads_(threads > 0 ? threads : omp_get_max_threads()) {}

  std::string name() const override { return "cpu"; }
  std::string description() const override {
    std::string text = fmt::format("cpu: {} OpenMP threads, {} hardware threads, OpenBLAS {} kernels", threads_,
                                   std::thread::hardware_concurrency(), cpu::blas_kernels());
    const std::string faster = cpu::faster_blas_kernels();
    if (!faster.empty())
      text += fmt::format(" (this CPU runs {0}'s, faster: set OPENBLAS_CORETYPE={0} before the process starts)", faster);
    return text;
  }
  bool on_device() const override { return false; }

  void* allocate(std::size_t bytes) override {
    // 64-byte alignment for vector loads; aligned_alloc needs a multiple of the alignment.
    std::size_t rounded = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
    COHORT_CHECK_STATUS(p != nullptr, Status::out_of_memory, "cpu backend: could not allocate {} bytes", bytes);
    return p;
  }
  void release(void* ptr) noexcept override { std::free(ptr); }
  void copy_to_backend(void* dst, const void* src, std::size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copy_to_host(void* dst, const void* src, std::size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copy_within(void* dst, const void* src, std::size_t bytes) override { std::memmove(dst, src, bytes); }
  void fill_zero(void* dst, std::size_t bytes) override { std::memset(dst, 0, bytes); }
  void synchronize() override {}

  void gemm_nt(float alpha, MatrixView<const float> a, MatrixView<const float> b, float beta,
               MatrixView<float> c) override {
    ThreadScope scope(threads_);
    cpu::gemm_nt(alpha, a, b, beta, c);
  }
  void row_sq_norms(MatrixView<const float> x, float* out) override {
    ThreadScope scope(threads_);
    cpu::row_sq_norms(x, out);
  }
  void distances_from_dots(MatrixView<float> dots, const float* row_sq, const float* col_sq,
                           int64_t self_offset) override {
    ThreadScope scope(threads_);
    cpu::distances_from_dots(dots, row_sq, col_sq, self_offset);
  }
  void normalize_rows(MatrixView<float> x) override {
    ThreadScope scope(threads_);
    cpu::normalize_rows(x);
  }
  void topk_cosine(CsrView a, CsrView a_t, int64_t row_begin, int64_t row_end, int k, bool exclude_self,
                   int32_t* out_index, float* out_score) override {
    ThreadScope scope(threads_);
    cpu::topk_cosine(a, a_t, row_begin, row_end, k, exclude_self, out_index, out_score);
  }
  void gram(MatrixView<const float> y, float* out) override {
    ThreadScope scope(threads_);
    cpu::gram(y, out);
  }
  void als_solve(CsrView rows, MatrixView<const float> y, const float* gram, float reg, AlsMode mode,
                 SolverKind solver, int cg_steps, MatrixView<float> x) override {
    ThreadScope scope(threads_);
    cpu::als_solve(rows, y, gram, reg, mode, solver, cg_steps, x);
  }
  double als_loss(CsrView rows, MatrixView<const float> x, MatrixView<const float> y, const float* gram,
                  AlsMode mode) override {
    ThreadScope scope(threads_);
    return cpu::als_loss(rows, x, y, gram, mode);
  }
  BprStats bpr_epoch(CsrView user_items, MatrixView<float> users, MatrixView<float> items, float learning_rate,
                     float reg, int64_t samples, uint64_t seed) override {
    ThreadScope scope(threads_);
    return cpu::bpr_epoch(user_items, users, items, learning_rate, reg, samples, seed);
  }
  void kmeans_assign(MatrixView<const float> x, const float* x_sq_norms, MatrixView<const float> centroids,
                     const int64_t* k_offsets, int num_problems, int32_t* labels, float* best_dist,
                     float* second_dist) override {
    ThreadScope scope(threads_);
    cpu::kmeans_assign(x, x_sq_norms, centroids, k_offsets, num_problems, labels, best_dist, second_dist);
  }
  void kmeans_accumulate(MatrixView<const float> x, const int32_t* labels, const int64_t* k_offsets,
                         int num_problems, double* sums, double* counts) override {
    ThreadScope scope(threads_);
    cpu::kmeans_accumulate(x, labels, k_offsets, num_problems, sums, counts);
  }
  void kmeans_finalize(const double* sums, const double* counts, MatrixView<float> centroids) override {
    ThreadScope scope(threads_);
    cpu::kmeans_finalize(sums, counts, centroids);
  }
  void sum_per_problem(const float* values, int64_t n, int num_problems, double* out_host) override {
    ThreadScope scope(threads_);
    cpu::sum_per_problem(values, n, num_problems, out_host);
  }
  void kmeans_plus_plus(MatrixView<const float> x, const float* x_sq_norms, int k, uint64_t seed,
                        MatrixView<float> centroids) override {
    ThreadScope scope(threads_);
    cpu::kmeans_plus_plus(x, x_sq_norms, k, seed, centroids);
  }
  void score_topk(const ScoreTerms& terms, int64_t rows, int64_t items, CsrView exclude, int k,
                  int32_t* out_index, float* out_score) override {
    ThreadScope scope(threads_);
    cpu::score_topk(terms, rows, items, exclude, k, out_index, out_score);
  }
  void knn_score_topk(CsrView user_items, const int32_t* neighbour_index, const float* neighbour_score,
                      int neighbours, int64_t items, CsrView exclude, int k, int32_t* out_index,
                      float* out_score) override {
    ThreadScope scope(threads_);
    cpu::knn_score_topk(user_items, neighbour_index, neighbour_score, neighbours, items, exclude, k, out_index,
                        out_score);
  }

 private:
  // Sets the OpenMP thread count for one operation and restores the caller's afterwards.
  struct ThreadScope {
    explicit ThreadScope(int threads) : saved(omp_get_max_threads()) { omp_set_num_threads(threads); }
    ~ThreadScope() { omp_set_num_threads(saved); }
    int saved;
  };
  int threads_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int threads) {
  COHORT_CHECK(threads >= 0, "threads must be >= 0, got {}", threads);
  return std::make_unique<CpuBackend>(threads);
}

}  // namespace cohort
