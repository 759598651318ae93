// A CPU emulation of the part of the CUDA device language that cohort's kernels use, so their
// logic (indexing, barriers, shuffles, reductions, edge cases) is tested by g++ on machines
// without a GPU, CI included. Included through kernels/cuda/device_functions.cuh when
// COHORT_CUDA_EMULATION is defined; never part of the library.
//
// Model: launch() runs a grid's blocks one after another on the calling thread. A block's
// threads are fibers switched cooperatively (a few instructions that swap the callee-saved
// registers and the stack on x86-64, ucontext elsewhere): each runs until it reaches a barrier
// (__syncthreads, __syncwarp, a shuffle) or returns, and a barrier opens when every thread of
// the block (of the warp) that has not returned has reached it. __shared__ variables are
// function statics (one block runs at a time, so its threads see the same copy), a shuffle
// exchanges through a per-warp slot array between two warp barriers, atomics are plain
// read-modify-writes (one fiber runs at a time). Runs are deterministic: between barriers
// threads run in order of their index, and blocks in order of theirs, unless
// COHORT_EMULATION_ORDER says otherwise (see ThreadOrder below): a race between threads or
// blocks that one order hides shows up in another. Dynamic shared memory is filled with 0xff bytes
// (NaN floats, -1 integers) before each block, so reading what no thread wrote shows up in
// the results. A barrier that some live thread never reaches (a divergent __syncthreads)
// aborts with a message instead of hanging. What it cannot show: timing, occupancy, register
// pressure, and races that no order of whole barrier-to-barrier steps exposes (two threads
// interleaved within a step); those stay with the GPU tests and compute-sanitizer.
#pragma once

#ifndef COHORT_CUDA_EMULATION
#error "cpu_emulation.hpp is for the CPU emulation build only (define COHORT_CUDA_EMULATION)"
#endif

#include <ucontext.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static thread_local  // each host thread emulates its own device (one per worker)
#define __align__(n) alignas(n)

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

namespace cohort::cuda_emulation {

enum class Wait { none, block, warp, done };

// COHORT_EMULATION_UCONTEXT forces the portable path (to test it on x86-64).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(COHORT_EMULATION_UCONTEXT)
#define COHORT_EMULATION_STACK_SWITCH 1
}  // namespace cohort::cuda_emulation
// cohort_emulation_switch(save, load): pushes the callee-saved registers, stores the stack
// pointer in *save and continues on the stack `load` (left by an earlier switch, or prepared
// by prepare_fiber), popping its registers. ucontext's swapcontext does the same plus a
// signal-mask system call on every switch, which made the emulated tests 2-3x slower.
extern "C" void cohort_emulation_switch(void** save, void* load);
__asm__(
    ".text\n"
    ".weak cohort_emulation_switch\n"
    ".type cohort_emulation_switch,@function\n"
    "cohort_emulation_switch:\n"
    "  pushq %rbp\n"
    "  pushq %rbx\n"
    "  pushq %r12\n"
    "  pushq %r13\n"
    "  pushq %r14\n"
    "  pushq %r15\n"
    "  movq %rsp, (%rdi)\n"
    "  movq %rsi, %rsp\n"
    "  popq %r15\n"
    "  popq %r14\n"
    "  popq %r13\n"
    "  popq %r12\n"
    "  popq %rbx\n"
    "  popq %rbp\n"
    "  ret\n"
    ".size cohort_emulation_switch,.-cohort_emulation_switch\n");
namespace cohort::cuda_emulation {
#endif

struct Fiber {
  unsigned char* stack = nullptr;  // kFiberStackBytes from stack_pool()
  Wait wait = Wait::none;
  uint64_t exchanges = 0;  // shuffles and ballots so far; the parity picks the slot array
#ifdef COHORT_EMULATION_STACK_SWITCH
  void* sp = nullptr;
#else
  ucontext_t context;
#endif
};

// What the lanes of a warp publish in one shuffle or ballot, with the number of the exchange
// each lane last published in (a lane that has returned keeps an old number).
struct WarpSlots {
  std::array<uint64_t, 32> value{};
  std::array<uint64_t, 32> exchange{};
};

struct BlockState {
  std::vector<Fiber> fibers;
  std::vector<WarpSlots> warp_slots;  // two per warp, used in turn
  std::vector<unsigned char> dynamic_shared;
  int current = 0;
  void (*run)(void*) = nullptr;  // the kernel with its arguments
  void* run_arg = nullptr;
#ifdef COHORT_EMULATION_STACK_SWITCH
  void* scheduler_sp = nullptr;
#else
  ucontext_t scheduler;
#endif
};

// Per host thread: workers on threads of one process each drive their own emulated device.
inline thread_local BlockState* current_block = nullptr;

inline int lane_id() { return current_block->current % 32; }

// Parks the running fiber at a barrier until the scheduler opens it.
inline void wait_at(Wait kind) {
  BlockState& b = *current_block;
  Fiber& f = b.fibers[static_cast<std::size_t>(b.current)];
  f.wait = kind;
#ifdef COHORT_EMULATION_STACK_SWITCH
  cohort_emulation_switch(&f.sp, b.scheduler_sp);
#else
  swapcontext(&f.context, &b.scheduler);
#endif
}

// Every live lane of the warp publishes v; returns the warp's slots once all have. One warp
// barrier per call: consecutive calls alternate between two slot arrays, so a lane that runs
// ahead writes into the array the others are not reading; by the time it comes back to the
// first, every lane has passed the barrier of the call in between and so has finished reading.
template <class T>
const WarpSlots& publish(T v) {
  static_assert(sizeof(T) <= sizeof(uint64_t), "shuffle of a type wider than 64 bits");
  BlockState& b = *current_block;
  Fiber& self = b.fibers[static_cast<std::size_t>(b.current)];
  auto& slots = b.warp_slots[static_cast<std::size_t>(2 * (b.current / 32) + (self.exchanges & 1))];
  const auto lane = static_cast<std::size_t>(lane_id());
  slots.value[lane] = 0;
  std::memcpy(&slots.value[lane], &v, sizeof(T));
  slots.exchange[lane] = self.exchanges++;
  wait_at(Wait::warp);
  return slots;
}

// Every lane publishes v, then reads the value of lane src(lane) (its own when out of range).
template <class T, class Src>
T exchange(T v, Src src) {
  const auto& slots = publish(v);
  const int from = src(lane_id());
  T out = v;
  if (from >= 0 && from < 32) std::memcpy(&out, &slots.value[static_cast<std::size_t>(from)], sizeof(T));
  return out;
}

inline unsigned char* dynamic_shared() { return current_block->dynamic_shared.data(); }

}  // namespace cohort::cuda_emulation

inline thread_local dim3 gridDim;
inline thread_local dim3 blockDim;
inline thread_local dim3 blockIdx;
inline thread_local dim3 threadIdx;

inline void __syncthreads() { cohort::cuda_emulation::wait_at(cohort::cuda_emulation::Wait::block); }
inline void __syncwarp(unsigned = 0xffffffffu) { cohort::cuda_emulation::wait_at(cohort::cuda_emulation::Wait::warp); }

template <class T>
T __shfl_xor_sync(unsigned, T v, int lane_mask, int = 32) {
  return cohort::cuda_emulation::exchange(v, [&](int lane) { return lane ^ lane_mask; });
}
template <class T>
T __shfl_sync(unsigned, T v, int src_lane, int = 32) {
  return cohort::cuda_emulation::exchange(v, [&](int) { return src_lane; });
}
template <class T>
T __shfl_down_sync(unsigned, T v, unsigned delta, int = 32) {
  return cohort::cuda_emulation::exchange(v, [&](int lane) { return lane + static_cast<int>(delta); });
}
template <class T>
T __shfl_up_sync(unsigned, T v, unsigned delta, int = 32) {
  return cohort::cuda_emulation::exchange(v, [&](int lane) { return lane - static_cast<int>(delta); });
}
// Lanes that did not take part (returned, or beyond the block) vote 0, as inactive lanes do.
inline unsigned __ballot_sync(unsigned, int predicate) {
  using cohort::cuda_emulation::current_block;
  const uint64_t exchange = current_block->fibers[static_cast<std::size_t>(current_block->current)].exchanges;
  const auto& slots = cohort::cuda_emulation::publish(predicate != 0 ? 1 : 0);
  unsigned bits = 0;
  for (std::size_t l = 0; l < 32; ++l)
    if (slots.exchange[l] == exchange && slots.value[l] != 0) bits |= 1u << l;
  return bits;
}

// 1 + the index of the lowest set bit; 0 for none.
inline int __ffs(int x) {
  const auto bits = static_cast<unsigned>(x);
  for (int b = 0; b < 32; ++b)
    if ((bits >> b) & 1u) return b + 1;
  return 0;
}

// One fiber runs at a time: an atomic is a plain read-modify-write that returns the old value.
template <class T>
T atomicAdd(T* p, T v) {
  const T old = *p;
  *p = old + v;
  return old;
}
template <class T>
T atomicOr(T* p, T v) {
  const T old = *p;
  *p = old | v;
  return old;
}
template <class T>
T atomicMin(T* p, T v) {
  const T old = *p;
  *p = v < old ? v : old;
  return old;
}
template <class T>
T atomicMax(T* p, T v) {
  const T old = *p;
  *p = v > old ? v : old;
  return old;
}
template <class T>
T atomicExch(T* p, T v) {
  const T old = *p;
  *p = v;
  return old;
}
template <class T>
T atomicCAS(T* p, T expected, T desired) {
  const T old = *p;
  if (old == expected) *p = desired;
  return old;
}

template <class T>
T __ldg(const T* p) {
  return *p;
}
inline float rsqrtf(float v) { return 1.0f / std::sqrt(v); }
// v with the 13 low mantissa bits cleared: the TF32 value a tensor core reads (the emulated
// cuBLAS in TF32 mode, and the kernels' tf32_truncate).
inline float cohort_emulated_tf32(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  bits &= 0xFFFFE000u;
  std::memcpy(&v, &bits, sizeof bits);
  return v;
}
namespace cohort::cuda_emulation {

// One m16n8k8 TF32 tensor-core step (device_functions.cuh's mma_tf32_16x8x8): the lanes publish
// their fragments of A and B, two values an exchange (three warp exchanges); each lane takes
// its rows of A (g and g + 8, from the four lanes of its quad) and its columns of B (2t and
// 2t + 1, from lanes 8t .. 8t + 7) and computes its four elements of D: inputs truncated to
// TF32, products exact in FP32, added in order of k.
inline void mma_tf32_16x8x8(float (&d)[4], const float (&a)[4], const float (&b)[2]) {
  const int lane = lane_id();
  const int g = lane / 4;
  const int t = lane % 4;
  float a_rows[2][8];  // A[g][k], A[g + 8][k]
  float b_cols[8][2];  // B[k][2t], B[k][2t + 1]
  const float mine[6] = {a[0], a[1], a[2], a[3], b[0], b[1]};
  for (int r = 0; r < 6; r += 2) {
    const uint64_t exchange = current_block->fibers[static_cast<std::size_t>(current_block->current)].exchanges;
    const WarpSlots& slots = publish(std::array<float, 2>{mine[r], mine[r + 1]});
    for (std::size_t l = 0; l < 32; ++l) {
      if (slots.exchange[l] != exchange) {
        std::fprintf(stderr, "cuda emulation: mma_tf32_16x8x8 without all 32 lanes of the warp\n");
        std::abort();
      }
    }
    auto from = [&](int l, int which) {
      float v[2];
      std::memcpy(v, &slots.value[static_cast<std::size_t>(l)], sizeof v);
      return cohort_emulated_tf32(v[which]);
    };
    for (int u = 0; u < 4; ++u) {
      if (r < 4) {  // a0, a1 (k = u) or a2, a3 (k = u + 4) of lane (g, u)
        a_rows[0][u + 2 * r] = from(4 * g + u, 0);
        a_rows[1][u + 2 * r] = from(4 * g + u, 1);
      } else {      // b0 (k = u), b1 (k = u + 4) of lanes (2t + c, u)
        for (int c = 0; c < 2; ++c) {
          b_cols[u][c] = from(4 * (2 * t + c) + u, 0);
          b_cols[u + 4][c] = from(4 * (2 * t + c) + u, 1);
        }
      }
    }
  }
  for (int q = 0; q < 4; ++q) {
    float acc = d[q];
    for (int k = 0; k < 8; ++k) acc += a_rows[q / 2][k] * b_cols[k][q % 2];
    d[q] = acc;
  }
}

}  // namespace cohort::cuda_emulation

// 1 / sqrt(v) rounded once, as the GPU's correctly rounded intrinsic.
inline float __frsqrt_rn(float v) { return static_cast<float>(1.0 / std::sqrt(static_cast<double>(v))); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
  return static_cast<unsigned long long>((static_cast<unsigned __int128>(a) * b) >> 64);
}
using std::isfinite;
using std::isnan;
// CUDA's device min/max take mixed integer types the way these do.
template <class A, class B>
auto min(A a, B b) {
  return a < b ? a : b;
}
template <class A, class B>
auto max(A a, B b) {
  return a < b ? b : a;
}

namespace cohort::cuda_emulation {

constexpr std::size_t kFiberStackBytes = 256 * 1024;

// Fiber stacks, kept from launch to launch and never cleared: allocating and zeroing 1024 x
// 256 KB for every launch was most of the emulated tests' time.
inline unsigned char* fiber_stack(std::size_t thread) {
  static thread_local std::vector<std::unique_ptr<unsigned char[]>> pool;
  while (pool.size() <= thread) pool.emplace_back(new unsigned char[kFiberStackBytes]);
  return pool[thread].get();
}
// The opt-in limit of sm_80 (163 KB), the smallest of the architectures cohort builds for.
constexpr std::size_t kMaxDynamicSharedBytes = 166912;

// Every fiber starts here and runs the block's kernel; at its end it hands back to the
// scheduler for good.
inline void fiber_main() {
  BlockState& b = *current_block;
  b.run(b.run_arg);
  b.fibers[static_cast<std::size_t>(b.current)].wait = Wait::done;
#ifdef COHORT_EMULATION_STACK_SWITCH
  void* finished = nullptr;
  cohort_emulation_switch(&finished, b.scheduler_sp);
  std::abort();  // a finished fiber is never resumed
#endif
  // ucontext: returning follows uc_link to the scheduler.
}

#ifdef COHORT_EMULATION_STACK_SWITCH
// A new fiber's stack as cohort_emulation_switch leaves one: six saved registers (zero), then
// fiber_main as the return address, at the alignment of a function entry.
inline void prepare_fiber(BlockState&, Fiber& f) {
  f.wait = Wait::none;
  f.exchanges = 0;
  const uintptr_t top = reinterpret_cast<uintptr_t>(f.stack + kFiberStackBytes) & ~uintptr_t{15};
  void** sp = reinterpret_cast<void**>(top) - 8;
  for (int r = 0; r < 6; ++r) sp[r] = nullptr;
  sp[6] = reinterpret_cast<void*>(&fiber_main);
  sp[7] = nullptr;
  f.sp = sp;
}
inline void resume(BlockState& state, Fiber& f) { cohort_emulation_switch(&state.scheduler_sp, f.sp); }
#else
// getcontext and swapcontext return twice; kept out of launch() so that its loop variables
// live in no frame that they resume.
[[gnu::noinline]] inline void prepare_fiber(BlockState& state, Fiber& f) {
  f.wait = Wait::none;
  f.exchanges = 0;
  getcontext(&f.context);
  f.context.uc_stack.ss_sp = f.stack;
  f.context.uc_stack.ss_size = kFiberStackBytes;
  f.context.uc_link = &state.scheduler;
  makecontext(&f.context, &fiber_main, 0);
}
[[gnu::noinline]] inline void resume(BlockState& state, Fiber& f) { swapcontext(&state.scheduler, &f.context); }
#endif

// The order in which threads run between barriers, and blocks one after another, from
// COHORT_EMULATION_ORDER: "forward" (the default: index order), "reverse", or "shuffle" /
// "shuffle:SEED" (a fresh permutation of the threads at every step and of the blocks at every
// launch, from a fixed seed). Correct kernels give the same results in every order, up to the
// rounding of float atomics; tests run the kernels in all three (tests/CMakeLists.txt).
class ThreadOrder {
 public:
  enum class Kind { forward, reverse, shuffle };
  static ThreadOrder& get() {
    static thread_local ThreadOrder order(std::getenv("COHORT_EMULATION_ORDER"));
    return order;
  }
  // Fills `order` with a permutation of 0..n-1.
  template <class Int>
  void arrange(std::vector<Int>& order, Int n) {
    order.resize(static_cast<std::size_t>(n));
    for (Int i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = kind_ == Kind::reverse ? n - 1 - i : i;
    if (kind_ != Kind::shuffle) return;
    for (Int i = n - 1; i > 0; --i) std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(next() % (i + 1))]);
  }

 private:
  explicit ThreadOrder(const char* spec) {
    const std::string s = spec != nullptr ? spec : "forward";
    if (s == "forward") {
      kind_ = Kind::forward;
    } else if (s == "reverse") {
      kind_ = Kind::reverse;
    } else if (s.rfind("shuffle", 0) == 0 && (s.size() == 7 || s[7] == ':')) {
      kind_ = Kind::shuffle;
      if (s.size() > 8) state_ = std::strtoull(s.c_str() + 8, nullptr, 10);
    } else {
      std::fprintf(stderr, "cuda emulation: COHORT_EMULATION_ORDER=%s; expected forward, reverse or shuffle[:SEED]\n",
                   s.c_str());
      std::abort();
    }
  }
  uint64_t next() {  // splitmix64
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  Kind kind_ = Kind::forward;
  uint64_t state_ = 1;
};

[[noreturn]] inline void deadlock(int64_t block, const BlockState& b) {
  int at_block = 0;
  int at_warp = 0;
  int done = 0;
  for (const Fiber& f : b.fibers) {
    at_block += f.wait == Wait::block;
    at_warp += f.wait == Wait::warp;
    done += f.wait == Wait::done;
  }
  std::fprintf(stderr,
               "cuda emulation: block %lld cannot go on (deadlock): %d threads wait at __syncthreads, %d at a warp "
               "barrier or shuffle, %d have returned\n",
               static_cast<long long>(block), at_block, at_warp, done);
  std::abort();
}

// Runs kernel(args...) over grid x block, one block after another (in index order, x fastest,
// unless ThreadOrder says otherwise), with shared_bytes of dynamic shared memory. Returns when
// every block has finished.
template <class Kernel, class... Args>
void launch(dim3 grid, dim3 block, std::size_t shared_bytes, Kernel kernel, Args... args) {
  const int threads = static_cast<int>(block.x * block.y * block.z);
  const int64_t blocks = int64_t{grid.x} * grid.y * grid.z;
  if (threads <= 0 || threads > 1024 || blocks <= 0 || grid.y > 65535 || grid.z > 65535) {
    std::fprintf(stderr, "cuda emulation: bad launch shape (%d threads, grid %u x %u x %u)\n", threads, grid.x,
                 grid.y, grid.z);
    std::abort();
  }
  if (shared_bytes > kMaxDynamicSharedBytes) {
    std::fprintf(stderr, "cuda emulation: %zu bytes of dynamic shared memory exceed the %zu of sm_80\n", shared_bytes,
                 kMaxDynamicSharedBytes);
    std::abort();
  }
  gridDim = grid;
  blockDim = block;
  BlockState state;
  state.fibers.resize(static_cast<std::size_t>(threads));
  for (std::size_t t = 0; t < state.fibers.size(); ++t) state.fibers[t].stack = fiber_stack(t);
  state.warp_slots.resize(static_cast<std::size_t>(2 * ((threads + 31) / 32)));
  state.dynamic_shared.resize(shared_bytes + 16);
  current_block = &state;
  auto run = [&] { kernel(args...); };
  state.run = [](void* self) { (*static_cast<decltype(run)*>(self))(); };
  state.run_arg = &run;

  ThreadOrder& order = ThreadOrder::get();
  std::vector<int64_t> block_order;
  std::vector<int> thread_order;
  order.arrange(block_order, blocks);
  for (const int64_t b : block_order) {
    blockIdx = dim3(static_cast<unsigned>(b % grid.x), static_cast<unsigned>((b / grid.x) % grid.y),
                    static_cast<unsigned>(b / (int64_t{grid.x} * grid.y)));
    std::fill(state.dynamic_shared.begin(), state.dynamic_shared.end(), static_cast<unsigned char>(0xff));
    // Exchange numbers restart with each block's fibers; an old block's slots must not match.
    std::fill(state.warp_slots.begin(), state.warp_slots.end(), WarpSlots{});
    for (Fiber& f : state.fibers) prepare_fiber(state, f);
    for (;;) {
      // Run every runnable thread, in the chosen order, up to its next barrier or its end.
      order.arrange(thread_order, threads);
      for (const int t : thread_order) {
        Fiber& f = state.fibers[static_cast<std::size_t>(t)];
        if (f.wait != Wait::none) continue;
        state.current = t;
        threadIdx = dim3(static_cast<unsigned>(t) % block.x, (static_cast<unsigned>(t) / block.x) % block.y,
                         static_cast<unsigned>(t) / (block.x * block.y));
        resume(state, f);
      }
      // Open the barriers whose live threads have all arrived.
      bool any_live = false;
      bool opened = false;
      bool whole_block = true;
      for (const Fiber& f : state.fibers) {
        if (f.wait == Wait::done) continue;
        any_live = true;
        whole_block = whole_block && f.wait == Wait::block;
      }
      if (!any_live) break;
      if (whole_block) {
        for (Fiber& f : state.fibers)
          if (f.wait == Wait::block) f.wait = Wait::none;
        opened = true;
      }
      for (int w = 0; w * 32 < threads; ++w) {
        const int lo = 32 * w;
        const int hi = std::min(threads, lo + 32);
        bool live = false;
        bool all_here = true;
        for (int t = lo; t < hi; ++t) {
          const Wait k = state.fibers[static_cast<std::size_t>(t)].wait;
          if (k == Wait::done) continue;
          live = true;
          all_here = all_here && k == Wait::warp;
        }
        if (live && all_here) {
          for (int t = lo; t < hi; ++t)
            if (state.fibers[static_cast<std::size_t>(t)].wait == Wait::warp)
              state.fibers[static_cast<std::size_t>(t)].wait = Wait::none;
          opened = true;
        }
      }
      if (!opened) deadlock(b, state);
    }
  }
  current_block = nullptr;
}

}  // namespace cohort::cuda_emulation
