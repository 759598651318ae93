// The BPR kernel (kernels/cuda/bpr_kernels.cuh) on the CPU emulation. One warp takes the
// samples in order, which makes the kernel a sequential SGD over its own sample stream: it
// must then match a plain loop written here over the same draws (SampleRng). Any launch shape
// draws the same samples, so the skipped count does not depend on it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/cuda/bpr_kernels.cuh"
#include "tests/kernels/cpu_test_support.hpp"

namespace cohort::test {
namespace {

namespace emu = cohort::cuda_emulation;

struct Epoch {
  std::vector<float> users, items;
  uint64_t correct = 0, skipped = 0;
};

// Sequential BPR over the kernel's draws: u by the sampled nonzero, i its item, j uniform;
// a j the user has is skipped.
Epoch reference_epoch(const HostCsr& ui, std::vector<float> users, std::vector<float> items, int f, float lr,
                      float reg, int64_t samples, uint64_t seed) {
  Epoch e;
  for (int64_t s = 0; s < samples; ++s) {
    cuda::SampleRng rng(seed, static_cast<uint64_t>(s));
    const int64_t k = rng.below(static_cast<int64_t>(ui.indices.size()));
    const int64_t u = std::upper_bound(ui.indptr.begin(), ui.indptr.end(), k) - ui.indptr.begin() - 1;
    const int32_t i = ui.indices[k];
    const auto j = static_cast<int32_t>(rng.below(ui.cols));
    if (std::binary_search(ui.indices.begin() + ui.indptr[u], ui.indices.begin() + ui.indptr[u + 1], j)) {
      ++e.skipped;
      continue;
    }
    float* xu = users.data() + u * f;
    float* yi = items.data() + static_cast<int64_t>(i) * f;
    float* yj = items.data() + static_cast<int64_t>(j) * f;
    float x = 0.0f;
    for (int q = 0; q < f; ++q) x += xu[q] * (yi[q] - yj[q]);
    if (x > 0.0f) ++e.correct;
    const float z = 1.0f / (1.0f + std::exp(x));
    for (int q = 0; q < f; ++q) {
      const float av = xu[q], bi = yi[q], bj = yj[q];
      xu[q] = av + lr * (z * (bi - bj) - reg * av);
      yi[q] = bi + lr * (z * av - reg * bi);
      yj[q] = bj + lr * (-z * av - reg * bj);
    }
  }
  e.users = std::move(users);
  e.items = std::move(items);
  return e;
}

Epoch emulated_epoch(const HostCsr& ui, std::vector<float> users, std::vector<float> items, int f, float lr, float reg,
                     int64_t samples, uint64_t seed, dim3 grid, dim3 block) {
  cuda::Counters counters{0, 0};
  emu::launch(grid, block, 0, cuda::bpr_kernel, ui.host_view(), users.data(), int64_t{f}, items.data(), int64_t{f}, f,
              lr, reg, samples, seed, &counters);
  return Epoch{std::move(users), std::move(items), counters.correct, counters.skipped};
}

HostCsr make_interactions(std::mt19937_64& rng, int64_t users, int64_t items) {
  HostCsr m;
  m.cols = items;
  std::bernoulli_distribution keep(0.15);
  for (int64_t u = 0; u < users; ++u) {
    std::vector<int32_t> c;
    for (int64_t i = 0; i < items; ++i)
      if (keep(rng)) c.push_back(static_cast<int32_t>(i));
    m.add_row(c);  // some rows are empty: never drawn
  }
  return m;
}

TEST(BprKernelEmulated, OneWarpIsTheSequentialSgdOverItsDraws) {
  std::mt19937_64 rng(21);
  const int64_t users = 40, items = 30, samples = 3000;
  for (int f : {5, 37}) {  // one lane per factor; more factors than lanes
    SCOPED_TRACE("f " + std::to_string(f));
    const HostCsr ui = make_interactions(rng, users, items);
    const std::vector<float> u0 = random_uniform(rng, users * f, -0.1f, 0.1f),
                             i0 = random_uniform(rng, items * f, -0.1f, 0.1f);
    const Epoch want = reference_epoch(ui, u0, i0, f, 0.05f, 0.01f, samples, 99);
    const Epoch got = emulated_epoch(ui, u0, i0, f, 0.05f, 0.01f, samples, 99, dim3(1), dim3(32));
    EXPECT_EQ(got.skipped, want.skipped);
    EXPECT_NEAR(static_cast<double>(got.correct), static_cast<double>(want.correct), 3.0);
    for (std::size_t e = 0; e < want.users.size(); ++e) ASSERT_NEAR(got.users[e], want.users[e], 1e-4) << e;
    for (std::size_t e = 0; e < want.items.size(); ++e) ASSERT_NEAR(got.items[e], want.items[e], 1e-4) << e;
    EXPECT_GT(want.skipped, 0u);
  }
}

TEST(BprKernelEmulated, TheDrawsDoNotDependOnTheLaunchShape) {
  std::mt19937_64 rng(22);
  const HostCsr ui = make_interactions(rng, 25, 20);
  const int f = 8;
  const std::vector<float> u0 = random_uniform(rng, 25 * f, -0.1f, 0.1f), i0 = random_uniform(rng, 20 * f, -0.1f, 0.1f);
  const Epoch one = emulated_epoch(ui, u0, i0, f, 0.05f, 0.0f, 2000, 7, dim3(1), dim3(32));
  const Epoch many = emulated_epoch(ui, u0, i0, f, 0.05f, 0.0f, 2000, 7, dim3(3), dim3(128));
  EXPECT_EQ(one.skipped, many.skipped);
  // A different seed draws differently.
  const Epoch other = emulated_epoch(ui, u0, i0, f, 0.05f, 0.0f, 2000, 8, dim3(1), dim3(32));
  EXPECT_NE(other.users, one.users);
}

}  // namespace
}  // namespace cohort::test
