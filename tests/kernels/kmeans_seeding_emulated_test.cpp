// k-means++ seeding (kernels/cuda/kmeans_seeding.cuh), driver and kernels, on the CPU
// emulation against the CPU backend's kmeans_plus_plus. Both draw the same random numbers in
// the same order and sum the potentials in double, so on well-separated data they pick the
// same rows (on clusters well apart, where rounding cannot move a draw across a row). Covered:
// more than one chunk of rows, k = 1, four trials per step, duplicated rows (the potential
// reaches zero and the draws turn uniform).
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cuda/kmeans_seeding.cuh"
#include "tests/kernels/cpu_test_support.hpp"

namespace cohort::test {
namespace {

namespace emu = cohort::cuda_emulation;

// The device operations of seed_kmeans_plus_plus, on host memory through the emulation.
struct EmulatedDevice {
  template <class T>
  std::vector<T> scratch(int64_t count) {
    return std::vector<T>(static_cast<std::size_t>(count));
  }
  template <class Kernel, class... Args>
  void launch(Kernel kernel, dim3 grid, dim3 block, Args... args) {
    emu::launch(grid, block, 0, kernel, args...);
  }
  void to_device(void* dst, const void* src, std::size_t bytes) { std::memcpy(dst, src, bytes); }
  void to_host(void* dst, const void* src, std::size_t bytes) { std::memcpy(dst, src, bytes); }
  // Grids of grid-stride kernels: the emulation runs blocks one after another, so a few blocks
  // keep the test quick and still give every loop several turns.
  unsigned grid_for(int64_t n, int block) const {
    return static_cast<unsigned>(std::clamp<int64_t>((n + block - 1) / block, 1, 3));
  }
};

struct Points {
  int64_t n = 0, d = 0;
  std::vector<float> x, sq;
};

// n rows around `blobs` well-separated centres (+ noise), d dimensions.
Points blobs(std::mt19937_64& rng, int64_t n, int64_t d, int blobs) {
  Points p;
  p.n = n;
  p.d = d;
  std::normal_distribution<float> noise(0.0f, 0.05f);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j)
      p.x.push_back(static_cast<float>((i % blobs) * 10 * (j == i % d ? 1 : 0)) + noise(rng));
  for (int64_t i = 0; i < n; ++i) {
    double s = 0.0;
    for (int64_t j = 0; j < d; ++j) s += static_cast<double>(p.x[i * d + j]) * p.x[i * d + j];
    p.sq.push_back(static_cast<float>(s));
  }
  return p;
}

std::vector<float> cpu_seed(const Points& p, int k, uint64_t seed) {
  auto cpu = make_cpu_backend(1);
  Buffer<float> x(*cpu, p.x), sq(*cpu, p.sq), c(*cpu, k * p.d);
  cpu->kmeans_plus_plus(x.matrix(p.n, p.d), sq.data(), k, seed, c.matrix(k, p.d));
  return c.to_host();
}

std::vector<float> emulated_seed(const Points& p, int k, uint64_t seed) {
  EmulatedDevice device;
  std::vector<float> c(static_cast<std::size_t>(k * p.d), NAN);
  cuda::seed_kmeans_plus_plus(device, MatrixView<const float>(p.x.data(), p.n, p.d), p.sq.data(), k, seed,
                              MatrixView<float>(c.data(), k, p.d));
  return c;
}

TEST(KmeansSeedingEmulated, PicksTheCpuBackendsRows) {
  std::mt19937_64 rng(4);
  // 1,100 rows: two chunks of 1,024, the second partial. k 9: four trials per step.
  const Points p = blobs(rng, 1100, 6, 5);
  for (int k : {1, 9}) {
    for (uint64_t seed : {1u, 77u}) {
      SCOPED_TRACE("k " + std::to_string(k) + " seed " + std::to_string(seed));
      EXPECT_EQ(emulated_seed(p, k, seed), cpu_seed(p, k, seed));
    }
  }
}

TEST(KmeansSeedingEmulated, DuplicatedRowsFallBackToUniformDrawsLikeTheCpu) {
  // 3 distinct rows, each repeated: after 3 centres the potential is zero.
  Points p;
  p.n = 60;
  p.d = 2;
  for (int64_t i = 0; i < p.n; ++i) {
    p.x.push_back(static_cast<float>(i % 3));
    p.x.push_back(static_cast<float>(2 * (i % 3)));
    p.sq.push_back(static_cast<float>(5 * (i % 3) * (i % 3)));
  }
  EXPECT_EQ(emulated_seed(p, 6, 3), cpu_seed(p, 6, 3));
}

}  // namespace
}  // namespace cohort::test
