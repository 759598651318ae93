#include "engine/comm/shard_plan.hpp"

#include <algorithm>

#include "kernels/error.hpp"

namespace cohort {

std::vector<RowBlock> plan_row_blocks(const std::vector<int64_t>& indptr, int workers) {
  COHORT_CHECK(workers >= 1, "plan_row_blocks: workers must be >= 1, got {}", workers);
  COHORT_CHECK(!indptr.empty(), "plan_row_blocks: indptr is empty");
  const int64_t rows = static_cast<int64_t>(indptr.size()) - 1;
  const int64_t total = indptr.back();
  std::vector<RowBlock> blocks(static_cast<size_t>(workers));
  int64_t begin = 0;
  for (int w = 0; w < workers; ++w) {
    int64_t end = rows;
    if (w + 1 < workers) {
      // The row boundary nearest this worker's share of the nonzeros: the first at or past
      // it, or the one before when that is nearer (a long row goes to the block it fits best).
      const int64_t target = total * (w + 1) / workers;
      end = std::lower_bound(indptr.begin() + begin, indptr.end(), target) - indptr.begin();
      end = std::clamp<int64_t>(end, begin, rows);
      if (end > begin && target - indptr[end - 1] < indptr[end] - target) --end;
    }
    blocks[static_cast<size_t>(w)] = {begin, end, indptr[end] - indptr[begin]};
    begin = end;
  }
  return blocks;
}

std::vector<RowBlock> even_row_blocks(int64_t rows, int workers) {
  COHORT_CHECK(workers >= 1, "even_row_blocks: workers must be >= 1, got {}", workers);
  COHORT_CHECK(rows >= 0, "even_row_blocks: rows must be >= 0, got {}", rows);
  std::vector<RowBlock> blocks(static_cast<size_t>(workers));
  for (int w = 0; w < workers; ++w) {
    const int64_t begin = rows * w / workers;
    const int64_t end = rows * (w + 1) / workers;
    blocks[static_cast<size_t>(w)] = {begin, end, end - begin};
  }
  return blocks;
}

}  // namespace cohort
