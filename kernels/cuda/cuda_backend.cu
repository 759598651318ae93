// The CUDA backend: one GPU's DeviceContext and the kernels of kernels/cuda/*.cu behind the
// Backend interface. Every operation is queued on the context's stream; the ones that return
// a value to the host (or say they block) synchronise.
#include <fmt/format.h>

#include "kernels/cuda/cuda_backend.hpp"
#include "kernels/cuda/cuda_ops.cuh"
#include "kernels/cuda/op_trace.hpp"
#include "kernels/error.hpp"

COHORT_CUDA_ENTRY_NAMESPACE_BEGIN
namespace {

class CudaBackend final : public Backend {
 public:
  CudaBackend(int device, bool tf32) : ctx_(device), tf32_(tf32) {
    if (tf32_) ctx_.warm_up_tf32();
  }
  ~CudaBackend() override { trace_.print(stderr); }

  std::string name() const override { return fmt::format("cuda:{}", ctx_.device()); }
  std::string description() const override {
    const cudaDeviceProp& p = ctx_.properties();
    return fmt::format("cuda:{}: {}, {:.1f} GiB, sm_{}{}, {} SMs", ctx_.device(), p.name,
                       static_cast<double>(p.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0), p.major, p.minor,
                       p.multiProcessorCount) +
           (tf32_ ? ", k-means distances in TF32" : "");
  }
  bool on_device() const override { return true; }

  void* allocate(std::size_t bytes) override {
    const Scope scope = enter("allocate");
    return ctx_.allocate(bytes);
  }
  void release(void* ptr) noexcept override {
    cudaSetDevice(ctx_.device());
    ctx_.release(ptr);
  }
  void copy_to_backend(void* dst, const void* host_src, std::size_t bytes) override {
    if (bytes == 0) return;
    const Scope scope = enter("copy_to_backend");
    COHORT_CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, ctx_.stream()));
  }
  void copy_to_host(void* host_dst, const void* src, std::size_t bytes) override {
    if (bytes == 0) return;
    const Scope scope = enter("copy_to_host");
    COHORT_CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, ctx_.stream()));
    ctx_.synchronize();
  }
  void copy_within(void* dst, const void* src, std::size_t bytes) override {
    if (bytes == 0) return;
    const Scope scope = enter("copy_within");
    COHORT_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx_.stream()));
  }
  void fill_zero(void* dst, std::size_t bytes) override {
    if (bytes == 0) return;
    const Scope scope = enter("fill_zero");
    COHORT_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, ctx_.stream()));
  }
  void synchronize() override {
    const Scope scope = enter("synchronize");
    ctx_.synchronize();
  }

  void gemm_nt(float alpha, MatrixView<const float> a, MatrixView<const float> b, float beta,
               MatrixView<float> c) override {
    const Scope scope = enter("gemm_nt");
    cuda::gemm_nt(ctx_, alpha, a, b, beta, c);
  }
  void row_sq_norms(MatrixView<const float> x, float* out) override {
    const Scope scope = enter("row_sq_norms");
    cuda::row_sq_norms(ctx_, x, out);
  }
  void distances_from_dots(MatrixView<float> dots, const float* row_sq, const float* col_sq,
                           int64_t self_offset) override {
    const Scope scope = enter("distances_from_dots");
    cuda::distances_from_dots(ctx_, dots, row_sq, col_sq, self_offset);
  }
  void normalize_rows(MatrixView<float> x) override {
    const Scope scope = enter("normalize_rows");
    cuda::normalize_rows(ctx_, x);
  }
  void topk_cosine(CsrView a, CsrView a_t, int64_t row_begin, int64_t row_end, int k, bool exclude_self,
                   int32_t* out_index, float* out_score) override {
    const Scope scope = enter("topk_cosine");
    cuda::topk_cosine(ctx_, a, a_t, row_begin, row_end, k, exclude_self, out_index, out_score);
  }
  void gram(MatrixView<const float> y, float* out) override {
    const Scope scope = enter("gram");
    cuda::gram(ctx_, y, out);
  }
  void als_solve(CsrView rows, MatrixView<const float> y, const float* gram, float reg, AlsMode mode,
                 SolverKind solver, int cg_steps, MatrixView<float> x) override {
    const Scope scope = enter("als_solve");
    cuda::als_solve(ctx_, rows, y, gram, reg, mode, solver, cg_steps, x);
  }
  double als_loss(CsrView rows, MatrixView<const float> x, MatrixView<const float> y, const float* gram,
                  AlsMode mode) override {
    const Scope scope = enter("als_loss");
    return cuda::als_loss(ctx_, rows, x, y, gram, mode);
  }
  BprStats bpr_epoch(CsrView user_items, MatrixView<float> users, MatrixView<float> items, float learning_rate,
                     float reg, int64_t samples, uint64_t seed) override {
    const Scope scope = enter("bpr_epoch");
    return cuda::bpr_epoch(ctx_, user_items, users, items, learning_rate, reg, samples, seed);
  }
  void kmeans_assign(MatrixView<const float> x, const float* x_sq_norms, MatrixView<const float> centroids,
                     const int64_t* k_offsets, int num_problems, int32_t* labels, float* best_dist,
                     float* second_dist) override {
    const Scope scope = enter("kmeans_assign");
    cuda::kmeans_assign(ctx_, x, x_sq_norms, centroids, k_offsets, num_problems, labels, best_dist, second_dist,
                        tf32_);
  }
  void kmeans_accumulate(MatrixView<const float> x, const int32_t* labels, const int64_t* k_offsets,
                         int num_problems, double* sums, double* counts) override {
    const Scope scope = enter("kmeans_accumulate");
    cuda::kmeans_accumulate(ctx_, x, labels, k_offsets, num_problems, sums, counts);
  }
  void kmeans_finalize(const double* sums, const double* counts, MatrixView<float> centroids) override {
    const Scope scope = enter("kmeans_finalize");
    cuda::kmeans_finalize(ctx_, sums, counts, centroids);
  }
  void sum_per_problem(const float* values, int64_t n, int num_problems, double* out_host) override {
    const Scope scope = enter("sum_per_problem");
    cuda::sum_per_problem(ctx_, values, n, num_problems, out_host);
  }
  void kmeans_plus_plus(MatrixView<const float> x, const float* x_sq_norms, int k, uint64_t seed,
                        MatrixView<float> centroids) override {
    const Scope scope = enter("kmeans_plus_plus");
    cuda::kmeans_plus_plus(ctx_, x, x_sq_norms, k, seed, centroids);
  }
  void score_topk(const ScoreTerms& terms, int64_t rows, int64_t items, CsrView exclude, int k,
                  int32_t* out_index, float* out_score) override {
    const Scope scope = enter("score_topk");
    cuda::score_topk(ctx_, terms, rows, items, exclude, k, out_index, out_score);
  }
  void knn_score_topk(CsrView user_items, const int32_t* neighbour_index, const float* neighbour_score,
                      int neighbours, int64_t items, CsrView exclude, int k, int32_t* out_index,
                      float* out_score) override {
    const Scope scope = enter("knn_score_topk");
    cuda::knn_score_topk(ctx_, user_items, neighbour_index, neighbour_score, neighbours, items, exclude, k,
                         out_index, out_score);
  }

  // The context, with this device made current: for entry points outside the interface.
  cuda::DeviceContext& context() {
    enter();
    return ctx_;
  }

 private:
  // Ends an operation: under COHORT_CUDA_TRACE, waits for its work and records its time.
  class Scope {
   public:
    Scope(CudaBackend& backend, const char* op) : backend_(backend), op_(op), start_(OpTrace::Clock::now()) {}
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    ~Scope() {
      if (!backend_.trace_.enabled()) return;
      cudaStreamSynchronize(backend_.ctx_.stream());  // an error surfaces at the next checked call
      backend_.trace_.add(op_, std::chrono::duration<double>(OpTrace::Clock::now() - start_).count());
    }

   private:
    CudaBackend& backend_;
    const char* op_;
    OpTrace::Clock::time_point start_;
  };

  // The calling thread may have another device current (several backends in one process).
  void enter() { COHORT_CUDA_CHECK(cudaSetDevice(ctx_.device())); }
  [[nodiscard]] Scope enter(const char* op) {
    enter();
    return Scope(*this, op);
  }

  cuda::DeviceContext ctx_;
  bool tf32_;  // k-means distances on TF32 tensor cores
  OpTrace trace_;
};

}  // namespace

void cuda_topk_cosine_reference(Backend& backend, CsrView a, CsrView a_t, int64_t row_begin, int64_t row_end, int k,
                                bool exclude_self, int32_t* out_index, float* out_score) {
  auto* cuda = dynamic_cast<CudaBackend*>(&backend);
  COHORT_CHECK(cuda != nullptr, "cuda_topk_cosine_reference: backend '{}' is not a CUDA backend", backend.name());
  cuda::topk_cosine_reference(cuda->context(), a, a_t, row_begin, row_end, k, exclude_self, out_index, out_score);
}

std::unique_ptr<Backend> make_cuda_backend(int device, bool tf32) {
  const int count = cuda_visible_devices();
  COHORT_CHECK_STATUS(device >= 0 && device < count, Status::backend_error, "cuda:{}: only {} GPU(s) visible", device,
                      count);
  return std::make_unique<CudaBackend>(device, tf32);
}

COHORT_CUDA_ENTRY_NAMESPACE_END
