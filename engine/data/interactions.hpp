// Interactions: a cleaned interaction log with its id maps.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/data/csr.hpp"

namespace cohort {

struct Interactions {
  Csr user_items;                      // users x items; values: the raw value (rating, count, 1)
  std::vector<int64_t> timestamps;     // aligned with user_items.values; empty when none given
  std::vector<std::string> user_ids;   // dense user index -> the id in the input
  std::vector<std::string> item_ids;   // dense item index -> the id in the input
  int64_t skipped_lines = 0;           // bad lines skipped under --skip-bad-lines
  int64_t duplicates_merged = 0;       // (user, item) pairs seen more than once

  int64_t users() const { return user_items.rows; }
  int64_t items() const { return user_items.cols; }
  int64_t nnz() const { return user_items.nnz(); }
  bool has_timestamps() const { return !timestamps.empty(); }
};

}  // namespace cohort
