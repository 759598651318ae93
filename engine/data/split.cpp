#include "engine/data/split.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "engine/parallel_for.hpp"
#include "kernels/error.hpp"

namespace cohort {
namespace {

// Uniform integer in [0, n) from one 64-bit draw: the high word of draw * n (Lemire).
// Unlike std::uniform_int_distribution the mapping is fixed, so a seed gives the same split
// with every standard library.
uint64_t draw_below(std::mt19937_64& rng, uint64_t n) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(rng()) * n) >> 64);
}

// Fisher-Yates over the first `count` slots: v[0, count) becomes a uniform random choice.
template <class T>
void partial_shuffle(std::vector<T>& v, size_t count, std::mt19937_64& rng) {
  for (size_t i = 0; i < count && i + 1 < v.size(); ++i) {
    size_t j = i + static_cast<size_t>(draw_below(rng, v.size() - i));
    std::swap(v[i], v[j]);
  }
}

// round(fraction * n), at least 1 where the fraction asks for any.
int64_t share(double fraction, int64_t n) {
  if (fraction <= 0.0 || n == 0) return 0;
  return std::max<int64_t>(1, std::llround(fraction * static_cast<double>(n)));
}

template <class Keep>
Csr extract(const Csr& m, Keep keep) {
  Csr out = Csr::empty(m.rows, m.cols);
  for (int64_t r = 0; r < m.rows; ++r) {
    for (int64_t p = m.indptr[r]; p < m.indptr[r + 1]; ++p) {
      if (keep(p)) {
        out.indices.push_back(m.indices[p]);
        out.values.push_back(m.values[p]);
      }
    }
    out.indptr[r + 1] = out.nnz();
  }
  return out;
}

}  // namespace

Split split_interactions(const Interactions& in, const SplitOptions& options) {
  COHORT_CHECK(options.cold_fraction >= 0.0 && options.cold_fraction <= 1.0, "split: cold_fraction {} not in [0, 1]",
               options.cold_fraction);
  COHORT_CHECK(options.warm_test_fraction >= 0.0 && options.warm_test_fraction <= 1.0,
               "split: warm_test_fraction {} not in [0, 1]", options.warm_test_fraction);
  COHORT_CHECK(options.cold_min_interactions >= 1, "split: cold_min_interactions must be >= 1, got {}",
               options.cold_min_interactions);
  const Csr& m = in.user_items;
  const bool has_time = in.has_timestamps();
  COHORT_CHECK(!has_time || in.timestamps.size() == m.indices.size(), "split: {} timestamps for {} interactions",
               in.timestamps.size(), m.nnz());
  std::mt19937_64 rng(options.seed);

  std::vector<int32_t> eligible;
  for (int64_t u = 0; u < m.rows; ++u) {
    if (m.row_length(u) >= options.cold_min_interactions) eligible.push_back(static_cast<int32_t>(u));
  }
  const auto cold_count = static_cast<size_t>(share(options.cold_fraction, static_cast<int64_t>(eligible.size())));
  partial_shuffle(eligible, cold_count, rng);
  Split split;
  split.cold_users.assign(eligible.begin(), eligible.begin() + static_cast<ptrdiff_t>(cold_count));
  std::sort(split.cold_users.begin(), split.cold_users.end());
  std::vector<char> is_cold(static_cast<size_t>(m.rows), 0);
  for (int32_t u : split.cold_users) is_cold[static_cast<size_t>(u)] = 1;

  // Per entry: its rank in a cold user's reveal order, or whether a warm user holds it out.
  std::vector<int64_t> rank(static_cast<size_t>(m.nnz()), -1);
  std::vector<char> held_out(static_cast<size_t>(m.nnz()), 0);
  auto by_time = [&](int64_t a, int64_t b) {
    if (in.timestamps[a] != in.timestamps[b]) return in.timestamps[a] < in.timestamps[b];
    return m.indices[a] < m.indices[b];
  };
  auto mark_user = [&](int64_t u, std::vector<int64_t>& order) {
    const int64_t length = m.row_length(u);
    order.resize(static_cast<size_t>(length));
    std::iota(order.begin(), order.end(), m.indptr[u]);
    if (is_cold[u]) {
      // Reveal the earliest first; without timestamps, a seeded random order.
      if (has_time) {
        std::sort(order.begin(), order.end(), by_time);
      } else {
        partial_shuffle(order, order.size(), rng);
      }
      for (size_t k = 0; k < order.size(); ++k) rank[order[k]] = static_cast<int64_t>(k);
    } else if (length >= 2) {
      // At least one interaction stays in training.
      const auto test = static_cast<size_t>(std::min(share(options.warm_test_fraction, length), length - 1));
      if (has_time) {
        std::sort(order.begin(), order.end(), by_time);
        for (size_t k = order.size() - test; k < order.size(); ++k) held_out[order[k]] = 1;
      } else {
        partial_shuffle(order, test, rng);
        for (size_t k = 0; k < test; ++k) held_out[order[k]] = 1;
      }
    }
  };
  // With timestamps no user draws from rng, so users are independent; without, they share
  // one stream in user order.
  if (has_time) {
    constexpr int64_t kUsersPerTask = 1024;
    parallel_for((m.rows + kUsersPerTask - 1) / kUsersPerTask, [&](int64_t task) {
      std::vector<int64_t> order;
      for (int64_t u = task * kUsersPerTask; u < std::min(m.rows, (task + 1) * kUsersPerTask); ++u) mark_user(u, order);
    });
  } else {
    std::vector<int64_t> order;
    for (int64_t u = 0; u < m.rows; ++u) mark_user(u, order);
  }

  // Every entry of a cold user has a rank, so rank < 0 leaves warm users only. The parts are
  // independent passes over m: one per thread.
  split.cold.resize(kRevealCounts.size());
  for (size_t set = 0; set < kRevealCounts.size(); ++set) split.cold[set].revealed_count = kRevealCounts[set];
  parallel_for(2 + 2 * static_cast<int64_t>(kRevealCounts.size()), [&](int64_t part) {
    if (part == 0) {
      split.train = extract(m, [&](int64_t p) { return rank[p] < 0 && !held_out[p]; });
    } else if (part == 1) {
      split.warm_test = extract(m, [&](int64_t p) { return held_out[p] != 0; });
    } else {
      const auto set = static_cast<size_t>((part - 2) / 2);
      const int n = kRevealCounts[set];
      ColdStartSet& cold = split.cold[set];
      if (part % 2 == 0)
        cold.revealed = extract(m, [&](int64_t p) { return rank[p] >= 0 && rank[p] < n; });
      else
        cold.test = extract(m, [&](int64_t p) { return rank[p] >= n; });
    }
  });
  return split;
}

}  // namespace cohort
