// The shard plan: which contiguous block of rows each worker (device or rank) owns in an
// SPMD run. Sparse rows are balanced by nonzeros (a half-step's work is per nonzero); dense
// rows by count.
#pragma once

#include <cstdint>
#include <vector>

namespace cohort {

struct RowBlock {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t nnz = 0;  // the nonzeros of the block; its rows for even_row_blocks
  int64_t rows() const { return end - begin; }
};

// Splits rows [0, indptr.size() - 1) into `workers` contiguous blocks whose nonzero counts
// are as equal as cutting between rows allows. Every block is returned, possibly empty.
std::vector<RowBlock> plan_row_blocks(const std::vector<int64_t>& indptr, int workers);

// Splits `rows` dense rows into `workers` contiguous blocks whose sizes differ by at most one.
std::vector<RowBlock> even_row_blocks(int64_t rows, int workers);

}  // namespace cohort
