// The shard plan: contiguous row blocks of the users x items matrix, balanced by nonzeros,
// one per worker (device or rank).
#pragma once

#include <cstdint>
#include <vector>

namespace cohort {

struct RowBlock {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t nnz = 0;
};

// Splits rows [0, indptr.size() - 1) into `workers` contiguous blocks whose nonzero counts
// are as equal as cutting between rows allows. Every block is returned, possibly empty.
std::vector<RowBlock> plan_row_blocks(const std::vector<int64_t>& indptr, int workers);

}  // namespace cohort
