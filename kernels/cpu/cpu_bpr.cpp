// CPU BPR (Rendle et al. 2009): one epoch of Hogwild SGD. Every OpenMP thread draws its share of
// the samples from its own splitmix64 stream keyed by (seed, thread) and updates the shared
// factors without locks; collisions are rare because a sample touches three rows of thousands.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/backend_checks.hpp"
#include "kernels/cpu/cpu_ops.hpp"
#include "kernels/cpu/csr_checks.hpp"
#include "kernels/error.hpp"

namespace cohort::cpu {
namespace {

constexpr uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ull;
constexpr int64_t kAhead = 4;         // samples drawn ahead of their update
constexpr int64_t kCacheLine = 64;    // bytes

// Asks for the cache lines of one factor row.
void prefetch_row(const float* row, int64_t f) {
  const char* p = reinterpret_cast<const char*>(row);
  for (int64_t b = 0; b < f * static_cast<int64_t>(sizeof(float)); b += kCacheLine) __builtin_prefetch(p + b);
}

// The splitmix64 finaliser (Steele, Lea, Flood 2014).
uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class SplitMix64 {
 public:
  SplitMix64(uint64_t seed, uint64_t stream) : state_(mix64(seed ^ mix64((stream + 1) * kGoldenGamma))) {}
  uint64_t next() { return mix64(state_ += kGoldenGamma); }
  // Uniform in [0, n) by the multiply-shift map (bias below n / 2^64).
  int64_t below(int64_t n) {
    return static_cast<int64_t>((static_cast<unsigned __int128>(next()) * static_cast<uint64_t>(n)) >> 64);
  }

 private:
  uint64_t state_;
};

// Number of elements <= key in the sorted a[0, n), i.e. the upper-bound position. Branch-free
// halving (the comparison becomes a conditional move): the keys are random, so a branching
// search would mispredict about every other step.
template <class T>
int64_t count_not_greater(const T* a, int64_t n, T key) {
  if (n == 0) return 0;
  const T* base = a;
  while (n > 1) {
    const int64_t half = n / 2;
    base = base[half] <= key ? base + half : base;
    n -= half;
  }
  return (base - a) + (*base <= key ? 1 : 0);
}

}  // namespace

BprStats bpr_epoch(CsrView user_items, MatrixView<float> users, MatrixView<float> items, float learning_rate,
                   float reg, int64_t samples, uint64_t seed) {
  check_bpr_epoch_args(user_items, users, items, learning_rate, reg, samples);
  check_csr(user_items, "bpr_epoch");
  const int64_t f = users.cols;
  // With no stored pair there is nothing to draw from; users without positives are never
  // drawn because a sample starts from a stored pair.
  if (user_items.nnz == 0 || samples == 0) return {};

  const int64_t* indptr = user_items.indptr;
  const int32_t* indices = user_items.indices;
  const int64_t nnz = user_items.nnz;
  const int64_t num_items = user_items.cols;
  COHORT_CHECK(user_items.rows <= std::numeric_limits<int32_t>::max(), "bpr_epoch: {} users exceed int32",
               user_items.rows);
  // The user of every stored pair: a draw then costs one load instead of a binary search over
  // all users (18 dependent cache misses at 200,000 users).
  std::vector<int32_t> owner(static_cast<std::size_t>(nnz));
#pragma omp parallel for schedule(static)
  for (int64_t u = 0; u < user_items.rows; ++u)
    std::fill(owner.begin() + indptr[u], owner.begin() + indptr[u + 1], static_cast<int32_t>(u));

  const int threads = std::max(1, omp_get_max_threads());
  std::vector<BprStats> per_thread(static_cast<std::size_t>(threads));

#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    const int team = omp_get_num_threads();
    const int64_t share = samples / team + (t < samples % team ? 1 : 0);
    SplitMix64 rng(seed, static_cast<uint64_t>(t));
    BprStats stats;
    stats.samples = share;
    // Samples are drawn kAhead ahead of their update (in the same order as drawn one by one),
    // so that the memory behind them is already on its way: the stored pair's owner when
    // drawn, the three factor rows one sample ahead. At 10M pairs the factors do not fit in
    // cache and every sample is otherwise three or four misses in a row.
    struct Draw {
      int64_t k;
      int32_t j;
    };
    Draw ring[kAhead];
    auto draw = [&] {
      const int64_t k = rng.below(nnz);
      const auto j = static_cast<int32_t>(rng.below(num_items));
      __builtin_prefetch(owner.data() + k);
      __builtin_prefetch(indices + k);
      return Draw{k, j};
    };
    for (int64_t s = 0; s < std::min<int64_t>(share, kAhead); ++s) ring[s] = draw();
    for (int64_t s = 0; s < share; ++s) {
      const Draw cur = ring[s % kAhead];
      if (s + kAhead < share) ring[s % kAhead] = draw();
      if (s + 1 < share) {
        const Draw& next = ring[(s + 1) % kAhead];
        prefetch_row(users.row(owner[static_cast<std::size_t>(next.k)]), f);
        prefetch_row(items.row(indices[next.k]), f);
        prefetch_row(items.row(next.j), f);
      }
      // A uniform stored pair (u, i) and a uniform item j, skipped when the user has j.
      const int64_t u = owner[static_cast<std::size_t>(cur.k)];
      const int32_t i = indices[cur.k];
      const int32_t j = cur.j;
      const int32_t* row = indices + indptr[u];
      const int64_t below = count_not_greater(row, indptr[u + 1] - indptr[u], j);
      if (below > 0 && row[below - 1] == j) {
        ++stats.skipped;
        continue;
      }
      float* xu = users.row(u);
      float* yi = items.row(i);
      float* yj = items.row(j);
      float x_uij = 0.0f;
#pragma omp simd reduction(+ : x_uij)
      for (int64_t q = 0; q < f; ++q) x_uij += xu[q] * (yi[q] - yj[q]);
      if (x_uij > 0.0f) ++stats.correct;
      // d/dx ln sigmoid(x) = 1 - sigmoid(x) = 1 / (1 + e^x).
      const float z = 1.0f / (1.0f + std::exp(x_uij));
      for (int64_t q = 0; q < f; ++q) {
        const float a = xu[q];
        const float bi = yi[q];
        const float bj = yj[q];
        xu[q] = a + learning_rate * (z * (bi - bj) - reg * a);
        yi[q] = bi + learning_rate * (z * a - reg * bi);
        yj[q] = bj + learning_rate * (-z * a - reg * bj);
      }
    }
    per_thread[static_cast<std::size_t>(t)] = stats;
  }

  BprStats total;
  for (const BprStats& s : per_thread) {
    total.samples += s.samples;
    total.correct += s.correct;
    total.skipped += s.skipped;
  }
  return total;
}

}  // namespace cohort::cpu
