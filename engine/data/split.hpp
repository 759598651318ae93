// The evaluation split of evaluation.md, seeded.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "engine/data/interactions.hpp"

namespace cohort {

struct SplitOptions {
  double cold_fraction = 0.10;     // of users with >= cold_min_interactions
  int cold_min_interactions = 6;
  double warm_test_fraction = 0.20;  // per warm user with >= 2 interactions, at least 1
  uint64_t seed = 42;
};

inline constexpr std::array<int, 3> kRevealCounts = {1, 3, 5};

// Every matrix is users x items over the same indices as the input.
struct ColdStartSet {
  int revealed_count = 0;
  Csr revealed;  // cold users' n revealed interactions (earliest by timestamp, else seeded)
  Csr test;      // the rest of their interactions
};

struct Split {
  Csr train;                      // warm users' training interactions; cold users' rows empty
  Csr warm_test;                  // warm users' held-out interactions
  std::vector<int32_t> cold_users;  // sorted
  std::vector<ColdStartSet> cold;   // one per kRevealCounts entry, same order
};

// Values are carried as they are in `in`. Warm held-out choice: the latest by timestamp where
// timestamps exist, else a seeded random choice.
Split split_interactions(const Interactions& in, const SplitOptions& options);

}  // namespace cohort
