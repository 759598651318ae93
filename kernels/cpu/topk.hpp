// Partial top-k selection shared by the CPU kernels that output ranked lists.
//
// Order: descending score, ties by ascending index. A bounded heap holds the k best seen so
// far with the worst at its root, so a candidate that cannot enter costs one comparison and
// selecting from n candidates is O(n + m log k) for m entries, never a full sort.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace cohort::cpu {

class TopKSelector {
 public:
  explicit TopKSelector(int k) : k_(k > 0 ? k : 0) { heap_.reserve(static_cast<std::size_t>(k_)); }

  void clear() {
    heap_.clear();
    floor_ = -std::numeric_limits<float>::infinity();
  }

  // NaN scores are skipped: they have no place in the order.
  void push(int32_t index, float score) {
    // Once full, most candidates score below the worst kept one: one comparison rejects them.
    if (score < floor_) return;
    insert(index, score);
  }

  // push(first + i, score[i]) for i in [0, n), in that order. Blocks of kScanBlock scores
  // that cannot enter cost one vectorised comparison with the floor: a full catalogue scanned
  // per user is mostly such blocks once the heap is full.
  void push_all(const float* score, int64_t n, int32_t first = 0) {
    constexpr int64_t kScanBlock = 16;
    int64_t i = 0;
    for (; i + kScanBlock <= n; i += kScanBlock) {
      const float floor = floor_;
      int any = 0;
      for (int64_t j = 0; j < kScanBlock; ++j) any |= score[i + j] >= floor;  // NaN: false
      if (!any) continue;
      for (int64_t j = 0; j < kScanBlock; ++j) push(first + static_cast<int32_t>(i + j), score[i + j]);
    }
    for (; i < n; ++i) push(first + static_cast<int32_t>(i), score[i]);
  }

  // Writes the k slots of one output row, best first; unused slots get index -1, score 0.
  // Leaves the selector empty.
  void write(int32_t* out_index, float* out_score) {
    std::sort_heap(heap_.begin(), heap_.end(), RanksBefore{});
    int n = static_cast<int>(heap_.size());
    for (int r = 0; r < n; ++r) {
      out_index[r] = heap_[r].index;
      out_score[r] = heap_[r].score;
    }
    for (int r = n; r < k_; ++r) {
      out_index[r] = -1;
      out_score[r] = 0.0f;
    }
    clear();
  }

 private:
  struct Entry {
    float score;
    int32_t index;
  };
  // True when a ranks before b. Used as the heap's "less", so the root is the worst entry.
  struct RanksBefore {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.score > b.score || (a.score == b.score && a.index < b.index);
    }
  };

  void insert(int32_t index, float score) {
    if (k_ == 0 || std::isnan(score)) return;
    Entry e{score, index};
    if (static_cast<int>(heap_.size()) < k_) {
      heap_.push_back(e);
      std::push_heap(heap_.begin(), heap_.end(), RanksBefore{});
    } else if (RanksBefore{}(e, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), RanksBefore{});
      heap_.back() = e;
      std::push_heap(heap_.begin(), heap_.end(), RanksBefore{});
    } else {
      return;
    }
    if (static_cast<int>(heap_.size()) == k_) floor_ = heap_.front().score;
  }

  int k_;
  std::vector<Entry> heap_;
  // The worst kept score once the heap is full (-inf before): anything below cannot enter.
  float floor_ = -std::numeric_limits<float>::infinity();
};

}  // namespace cohort::cpu
