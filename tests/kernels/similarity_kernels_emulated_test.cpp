// The top-k cosine kernels (kernels/cuda/similarity_kernels.cuh) on the CPU emulation against
// the CPU backend's topk_cosine: the shared-memory hash table (rows with few products), the
// dense accumulators in shared memory and in a global slice with a touched list (rows with
// many), k above a row's neighbour count, exclude_self both ways, a row range, bad indices.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cuda/similarity_kernels.cuh"
#include "tests/kernels/cpu_test_support.hpp"
#include "tests/kernels/emulated_test_support.hpp"

namespace cohort::test {
namespace {

namespace emu = cohort::cuda_emulation;

// rows x cols with values; `dense_rows` rows touch most columns (many products).
HostCsr make_matrix(std::mt19937_64& rng, int64_t rows, int64_t cols, int64_t dense_rows) {
  HostCsr m;
  m.cols = cols;
  std::uniform_real_distribution<float> value(0.5f, 3.0f);
  std::bernoulli_distribution sparse(4.0 / static_cast<double>(cols));
  std::bernoulli_distribution dense(0.6);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<int32_t> c;
    std::vector<float> v;
    for (int64_t j = 0; j < cols; ++j) {
      if (!(r < dense_rows ? dense(rng) : sparse(rng))) continue;
      c.push_back(static_cast<int32_t>(j));
      v.push_back(value(rng));
    }
    m.add_row(c, v);
  }
  return m;
}

TopK cpu_topk(const HostCsr& a, const HostCsr& a_t, int64_t begin, int64_t end, int k, bool exclude_self) {
  auto cpu = make_cpu_backend(1);
  BackendCsr da(*cpu, a), dt(*cpu, a_t);
  Buffer<int32_t> index(*cpu, (end - begin) * k);
  Buffer<float> score(*cpu, (end - begin) * k);
  cpu->topk_cosine(da.view, dt.view, begin, end, k, exclude_self, index.data(), score.data());
  return {index.to_host(), score.to_host()};
}

enum class Variant { hash, dense_shared, dense_global };

// Runs the hash kernel and then one dense variant, as similarity.cu does: each takes the rows
// that suit it and skips the others.
TopK emulated_topk(const HostCsr& a, const HostCsr& a_t, int64_t begin, int64_t end, int k, bool exclude_self,
                   Variant dense, int* flag) {
  const CsrView av = a.host_view(), tv = a_t.host_view();
  std::vector<float> norm(static_cast<std::size_t>(a.rows));
  emu::launch(dim3(2), dim3(64), 0, cuda::csr_row_norms_kernel, av, norm.data());
  const int64_t out_rows = end - begin;
  TopK out{std::vector<int32_t>(static_cast<std::size_t>(out_rows * k), -9),
           std::vector<float>(static_cast<std::size_t>(out_rows * k), NAN)};
  const unsigned grid = static_cast<unsigned>(std::min<int64_t>(out_rows, 3));
  emu::launch(dim3(grid), dim3(cuda::kTopkThreads), 0, cuda::topk_cosine_hash_kernel, av, tv, norm.data(), begin,
              out_rows, k, exclude_self, out.index.data(), out.score.data(), flag);
  if (dense == Variant::dense_shared) {
    emu::launch(dim3(grid), dim3(cuda::kTopkThreads), static_cast<std::size_t>(a.rows) * sizeof(float),
                cuda::topk_cosine_dense_kernel<true>, av, tv, norm.data(), begin, out_rows, k, exclude_self,
                out.index.data(), out.score.data(), flag, nullptr, nullptr, nullptr);
  } else if (dense == Variant::dense_global) {
    std::vector<float> acc(static_cast<std::size_t>(grid * a.rows), 0.0f);
    std::vector<int> mark(acc.size(), 0);
    std::vector<int32_t> list(acc.size(), 0);
    emu::launch(dim3(grid), dim3(cuda::kTopkThreads), 0, cuda::topk_cosine_dense_kernel<false>, av, tv, norm.data(),
                begin, out_rows, k, exclude_self, out.index.data(), out.score.data(), flag, acc.data(), mark.data(),
                list.data());
    // The slices are left zero for the next call.
    for (float v : acc) EXPECT_EQ(v, 0.0f);
    for (int v : mark) EXPECT_EQ(v, 0);
  }
  return out;
}

TEST(SimilarityKernelsEmulated, HashTableRowsMatchTheCpuBackend) {
  std::mt19937_64 rng(8);
  const HostCsr a = make_matrix(rng, 150, 60, 0);
  const HostCsr t = a.transpose();
  for (bool exclude_self : {true, false}) {
    for (int k : {1, 7, 40}) {  // 40: more than most rows have
      SCOPED_TRACE("k " + std::to_string(k) + (exclude_self ? " excluding self" : ""));
      int flag = 0;
      const TopK got = emulated_topk(a, t, 10, 40, k, exclude_self, Variant::hash, &flag);
      EXPECT_EQ(flag, 0);
      expect_same_topk(cpu_topk(a, t, 10, 40, k, exclude_self), got, 30, k, 1e-5);
    }
  }
}

TEST(SimilarityKernelsEmulated, DenseRowsMatchTheCpuBackendInSharedAndGlobalAccumulators) {
  // 1,200 rows > kHashMaxKeys; the first 12 rows are dense, so their products exceed it.
  std::mt19937_64 rng(9);
  const HostCsr a = make_matrix(rng, 1200, 50, 12);
  const HostCsr t = a.transpose();
  const TopK want = cpu_topk(a, t, 0, 20, 25, true);
  for (Variant v : {Variant::dense_shared, Variant::dense_global}) {
    SCOPED_TRACE(v == Variant::dense_shared ? "shared" : "global");
    int flag = 0;
    const TopK got = emulated_topk(a, t, 0, 20, 25, true, v, &flag);
    EXPECT_EQ(flag, 0);
    expect_same_topk(want, got, 20, 25, 1e-5);
  }
}

TEST(SimilarityKernelsEmulated, BadIndicesRaiseTheFlag) {
  std::mt19937_64 rng(10);
  HostCsr a = make_matrix(rng, 40, 30, 0);
  HostCsr t = a.transpose();
  for (int64_t r = 0; r < a.rows; ++r)
    if (a.indptr[r + 1] > a.indptr[r]) {
      a.indices[a.indptr[r]] = 30;  // == cols
      break;
    }
  int flag = 0;
  emulated_topk(a, t, 0, 40, 5, true, Variant::hash, &flag);
  EXPECT_EQ(flag, cuda::kCosineBadIndex);
}

}  // namespace
}  // namespace cohort::test
