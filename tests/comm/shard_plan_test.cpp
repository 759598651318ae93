// Row blocks: contiguous, covering every row once, balanced by nonzeros (sparse) or count
// (dense), with empty blocks when there are more workers than rows.
#include <gtest/gtest.h>

#include <vector>

#include "engine/comm/shard_plan.hpp"
#include "kernels/error.hpp"

namespace cohort {
namespace {

void expect_partition(const std::vector<RowBlock>& blocks, int64_t rows) {
  int64_t next = 0;
  for (const RowBlock& b : blocks) {
    EXPECT_EQ(b.begin, next);
    EXPECT_LE(b.begin, b.end);
    next = b.end;
  }
  EXPECT_EQ(next, rows);
}

TEST(PlanRowBlocks, BalancesNonzerosAcrossWorkers) {
  // Row lengths 1, 1, 1, 1, 8, 1, 1, 1, 1: the long row is a block's whole share.
  std::vector<int64_t> indptr = {0};
  for (int len : {1, 1, 1, 1, 8, 1, 1, 1, 1}) indptr.push_back(indptr.back() + len);
  const auto blocks = plan_row_blocks(indptr, 3);
  ASSERT_EQ(blocks.size(), 3u);
  expect_partition(blocks, 9);
  int64_t total = 0;
  for (const RowBlock& b : blocks) {
    EXPECT_EQ(b.nnz, indptr[b.end] - indptr[b.begin]);
    EXPECT_LE(b.nnz, 9);  // no block takes more than the long row and its neighbour
    total += b.nnz;
  }
  EXPECT_EQ(total, 16);
}

TEST(PlanRowBlocks, MoreWorkersThanRowsLeavesEmptyBlocks) {
  const auto blocks = plan_row_blocks({0, 2, 4}, 4);
  ASSERT_EQ(blocks.size(), 4u);
  expect_partition(blocks, 2);
  EXPECT_THROW(plan_row_blocks({0, 1}, 0), Error);
  EXPECT_THROW(plan_row_blocks({}, 2), Error);
}

TEST(EvenRowBlocks, SizesDifferByAtMostOne) {
  const auto blocks = even_row_blocks(10, 4);
  ASSERT_EQ(blocks.size(), 4u);
  expect_partition(blocks, 10);
  for (const RowBlock& b : blocks) {
    EXPECT_GE(b.rows(), 2);
    EXPECT_LE(b.rows(), 3);
  }
  expect_partition(even_row_blocks(2, 5), 2);
  expect_partition(even_row_blocks(0, 3), 0);
  EXPECT_THROW(even_row_blocks(5, 0), Error);
}

}  // namespace
}  // namespace cohort
