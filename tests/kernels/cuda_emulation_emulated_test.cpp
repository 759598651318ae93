// The CPU emulation of the CUDA device language (kernels/cuda/cpu_emulation.hpp): the
// semantics the kernel tests rely on.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "kernels/cuda/device_functions.cuh"

namespace cohort::test {
namespace {

namespace emu = cohort::cuda_emulation;

__global__ void indices_kernel(int* out) {
  const int t = static_cast<int>(threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z));
  const int b = static_cast<int>(blockIdx.x + gridDim.x * blockIdx.y);
  out[b * static_cast<int>(blockDim.x * blockDim.y * blockDim.z) + t] = b * 1000 + t;
}

TEST(CudaEmulation, EveryThreadOfEveryBlockRunsWithItsIndices) {
  std::vector<int> out(3 * 2 * 64, -1);
  emu::launch(dim3(3, 2), dim3(16, 2, 2), 0, indices_kernel, out.data());
  for (int b = 0; b < 6; ++b)
    for (int t = 0; t < 64; ++t) EXPECT_EQ(out[b * 64 + t], b * 1000 + t);
}

// Shared memory written by one thread is read by all after the barrier; a reversal that is
// wrong without the barrier.
__global__ void reverse_kernel(const int* in, int* out) {
  COHORT_DYNAMIC_SHARED(int, buffer);
  const int t = static_cast<int>(threadIdx.x);
  const int n = static_cast<int>(blockDim.x);
  buffer[t] = in[blockIdx.x * n + t];
  __syncthreads();
  out[blockIdx.x * n + t] = buffer[n - 1 - t];
}

TEST(CudaEmulation, SyncthreadsOrdersSharedMemory) {
  std::vector<int> in(2 * 96), out(2 * 96, 0);
  std::iota(in.begin(), in.end(), 0);
  emu::launch(dim3(2), dim3(96), 96 * sizeof(int), reverse_kernel, in.data(), out.data());
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 96; ++t) EXPECT_EQ(out[b * 96 + t], in[b * 96 + 95 - t]);
}

__global__ void shuffle_kernel(float* sums, int* xor_of, int* down, unsigned* ballot) {
  const int t = static_cast<int>(threadIdx.x);
  sums[t] = cohort::cuda::warp_sum(static_cast<float>(t));
  xor_of[t] = __shfl_xor_sync(0xffffffffu, t, 5);
  down[t] = __shfl_down_sync(0xffffffffu, t, 3);
  ballot[t] = __ballot_sync(0xffffffffu, t % 3 == 0);
}

TEST(CudaEmulation, WarpShufflesExchangeWithinTheWarp) {
  std::vector<float> sums(64);
  std::vector<int> xor_of(64), down(64);
  std::vector<unsigned> ballot(64);
  emu::launch(dim3(1), dim3(64), 0, shuffle_kernel, sums.data(), xor_of.data(), down.data(), ballot.data());
  unsigned want_ballot[2] = {0, 0};
  for (int t = 0; t < 64; ++t)
    if (t % 3 == 0) want_ballot[t / 32] |= 1u << (t % 32);
  for (int t = 0; t < 64; ++t) {
    const int base = t / 32 * 32;
    EXPECT_EQ(sums[t], static_cast<float>(32 * base + 31 * 32 / 2)) << t;
    EXPECT_EQ(xor_of[t], base + ((t - base) ^ 5)) << t;
    EXPECT_EQ(down[t], t - base + 3 < 32 ? t + 3 : t) << t;  // out of the warp: its own value
    EXPECT_EQ(ballot[t], want_ballot[t / 32]) << t;
  }
}

// Two warps, each one m16n8k8 step: lane (g, t) loads the fragments where the PTX ISA puts
// them (device_functions.cuh), from A (16 x 8, row-major) and B (8 x 8, B[k][n]) per warp.
__global__ void mma_kernel(const float* a, const float* b, float* d) {
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int w = static_cast<int>(threadIdx.x) / 32;
  const int g = lane / 4;
  const int t = lane % 4;
  const float* aw = a + w * 128;
  const float* bw = b + w * 64;
  const float af[4] = {aw[g * 8 + t], aw[(g + 8) * 8 + t], aw[g * 8 + t + 4], aw[(g + 8) * 8 + t + 4]};
  const float bf[2] = {bw[t * 8 + g], bw[(t + 4) * 8 + g]};
  float df[4] = {1.0f, 2.0f, 3.0f, 4.0f};  // accumulated into
  cohort::cuda::mma_tf32_16x8x8(df, af, bf);
  float* dw = d + w * 128;
  dw[g * 8 + 2 * t] = df[0];
  dw[g * 8 + 2 * t + 1] = df[1];
  dw[(g + 8) * 8 + 2 * t] = df[2];
  dw[(g + 8) * 8 + 2 * t + 1] = df[3];
}

TEST(CudaEmulation, TensorCoreMmaMultipliesTf32Fragments) {
  std::vector<float> a(256), b(128), d(256, NAN);
  // Small integers are exact in TF32; one value with low mantissa bits shows the truncation.
  for (int i = 0; i < 256; ++i) a[i] = static_cast<float>((i * 7) % 11 - 5);
  for (int i = 0; i < 128; ++i) b[i] = static_cast<float>((i * 5) % 9 - 4);
  a[3] = 1.0f + 1.0f / 4096.0f;  // TF32 keeps 10 mantissa bits: reads as 1
  emu::launch(dim3(1), dim3(64), 0, mma_kernel, a.data(), b.data(), d.data());
  for (int w = 0; w < 2; ++w) {
    for (int r = 0; r < 16; ++r) {
      for (int c = 0; c < 8; ++c) {
        double want = 1.0 + 2.0 * (r >= 8) + (c % 2);  // the accumulator's start
        for (int k = 0; k < 8; ++k) {
          const float av = w == 0 && r == 0 && k == 3 ? 1.0f : a[w * 128 + r * 8 + k];
          want += double{av} * b[w * 64 + k * 8 + c];
        }
        EXPECT_EQ(d[w * 128 + r * 8 + c], static_cast<float>(want)) << "warp " << w << " row " << r << " col " << c;
      }
    }
  }
}

// Threads that return early no longer hold back the barriers of the others.
__global__ void early_return_kernel(int* out) {
  const int t = static_cast<int>(threadIdx.x);
  if (t >= 40) return;
  __shared__ int total;
  if (t == 0) total = 0;
  __syncthreads();
  atomicAdd(&total, t);
  __syncthreads();
  out[t] = total;
}

TEST(CudaEmulation, ReturnedThreadsLeaveTheBarriers) {
  std::vector<int> out(64, -1);
  emu::launch(dim3(1), dim3(64), 0, early_return_kernel, out.data());
  for (int t = 0; t < 40; ++t) EXPECT_EQ(out[t], 39 * 40 / 2);
  for (int t = 40; t < 64; ++t) EXPECT_EQ(out[t], -1);
}

// Lanes that returned take no part in a later ballot: they vote 0, whatever they voted before
// (two ballots by all lanes first, so their old votes sit in both slot arrays).
__global__ void ballot_after_return_kernel(unsigned* out) {
  const unsigned first = __ballot_sync(0xffffffffu, 1);
  const unsigned second = __ballot_sync(0xffffffffu, 1);
  if (threadIdx.x >= 20) return;
  out[threadIdx.x] = first == 0xffffffffu && second == 0xffffffffu ? __ballot_sync(0xfffffu, 1) : 0u;
}

TEST(CudaEmulation, ReturnedLanesVoteZero) {
  std::vector<unsigned> out(32, 0);
  emu::launch(dim3(1), dim3(32), 0, ballot_after_return_kernel, out.data());
  for (int t = 0; t < 20; ++t) EXPECT_EQ(out[t], 0xfffffu) << t;
}

__global__ void unwritten_shared_kernel(float* out) {
  COHORT_DYNAMIC_SHARED(float, buffer);
  out[threadIdx.x] = buffer[threadIdx.x];
}

TEST(CudaEmulation, UnwrittenDynamicSharedMemoryReadsAsNan) {
  std::vector<float> out(32, 0.0f);
  emu::launch(dim3(1), dim3(32), 32 * sizeof(float), unwritten_shared_kernel, out.data());
  for (float v : out) EXPECT_TRUE(std::isnan(v));
}

// A missing barrier: each thread writes its slot, then reads its right-hand neighbour's
// without a __syncthreads. Whether the neighbour has written yet depends on the order the
// threads run in, which COHORT_EMULATION_ORDER sets (ctest runs this program in each).
__global__ void missing_barrier_kernel(int* saw_unwritten) {
  COHORT_DYNAMIC_SHARED(int, slot);
  const int t = static_cast<int>(threadIdx.x);
  const int n = static_cast<int>(blockDim.x);
  slot[t] = t;
  saw_unwritten[t] = slot[(t + 1) % n] != (t + 1) % n;  // unwritten dynamic shared memory is -1
}

__global__ void block_order_kernel(int* next, int* order) {
  if (threadIdx.x == 0) order[atomicAdd(next, 1)] = static_cast<int>(blockIdx.x);
}

std::string emulation_order() {
  const char* v = std::getenv("COHORT_EMULATION_ORDER");
  return v != nullptr ? v : "forward";
}

TEST(CudaEmulation, TheThreadOrderDecidesWhatAMissingBarrierReads) {
  constexpr int n = 64;
  std::vector<int> saw(n, -1);
  emu::launch(dim3(1), dim3(n), n * sizeof(int), missing_barrier_kernel, saw.data());
  const int stale = std::accumulate(saw.begin(), saw.end(), 0);
  const std::string order = emulation_order();
  if (order == "forward") {
    EXPECT_EQ(stale, n - 1);  // every thread but the last runs before its neighbour
  } else if (order == "reverse") {
    EXPECT_EQ(stale, 1);  // only thread n-1, whose neighbour 0 runs last
  } else {
    EXPECT_GT(stale, 1) << order;
    EXPECT_LT(stale, n - 1) << order;
  }
}

TEST(CudaEmulation, TheBlockOrderFollowsTheThreadOrder) {
  constexpr int blocks = 64;
  int next = 0;
  std::vector<int> order(blocks, -1);
  emu::launch(dim3(blocks), dim3(32), 0, block_order_kernel, &next, order.data());
  std::vector<int> forward(blocks);
  std::iota(forward.begin(), forward.end(), 0);
  std::vector<int> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  ASSERT_EQ(sorted, forward) << "every block runs once";
  const std::string kind = emulation_order();
  if (kind == "forward") {
    EXPECT_EQ(order, forward);
  } else if (kind == "reverse") {
    EXPECT_EQ(order, std::vector<int>(forward.rbegin(), forward.rend()));
  } else {
    EXPECT_NE(order, forward) << kind;
  }
}

__global__ void divergent_barrier_kernel() {
  if (threadIdx.x < 16) __syncthreads();
  else __syncwarp();
}

TEST(CudaEmulationDeathTest, ADivergentBarrierAbortsWithAMessage) {
  EXPECT_DEATH(emu::launch(dim3(1), dim3(32), 0, divergent_barrier_kernel), "deadlock");
}

}  // namespace
}  // namespace cohort::test
