#include "engine/data/split.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "kernels/error.hpp"

namespace cohort {
namespace {

using Entry = std::pair<int64_t, int32_t>;  // (user, item)

std::map<Entry, float> entries(const Csr& m) {
  std::map<Entry, float> out;
  for (int64_t r = 0; r < m.rows; ++r) {
    for (int64_t p = m.indptr[r]; p < m.indptr[r + 1]; ++p) out[{r, m.indices[p]}] = m.values[p];
  }
  return out;
}

std::set<int32_t> row_items(const Csr& m, int64_t r) {
  return {m.indices.begin() + m.indptr[r], m.indices.begin() + m.indptr[r + 1]};
}

// 300 users with 1..20 interactions each over 60 items; values 1..5; timestamps from a
// small range so that ties occur.
Interactions synthetic(bool with_timestamps) {
  const int64_t users = 300;
  const int64_t items = 60;
  std::mt19937 rng(7);
  std::vector<int32_t> row;
  std::vector<int32_t> col;
  std::vector<float> value;
  std::vector<int32_t> pool(items);
  for (int64_t u = 0; u < users; ++u) {
    std::iota(pool.begin(), pool.end(), 0);
    std::shuffle(pool.begin(), pool.end(), rng);
    const int length = 1 + static_cast<int>((u * 7) % 20);
    for (int k = 0; k < length; ++k) {
      row.push_back(static_cast<int32_t>(u));
      col.push_back(pool[k]);
      value.push_back(static_cast<float>(1 + (u + k) % 5));
    }
  }
  Interactions d;
  d.user_items = Csr::from_triplets(users, items, row, col, value);
  if (with_timestamps) {
    for (int64_t p = 0; p < d.nnz(); ++p) d.timestamps.push_back(static_cast<int64_t>(rng() % 50));
  }
  for (int64_t u = 0; u < users; ++u) d.user_ids.push_back(std::to_string(u));
  for (int64_t i = 0; i < items; ++i) d.item_ids.push_back(std::to_string(i));
  return d;
}

void expect_shape(const Csr& m, const Interactions& d) {
  EXPECT_EQ(m.rows, d.users());
  EXPECT_EQ(m.cols, d.items());
  ASSERT_EQ(m.indptr.size(), static_cast<size_t>(m.rows + 1));
  for (int64_t r = 0; r < m.rows; ++r) {
    for (int64_t p = m.indptr[r] + 1; p < m.indptr[r + 1]; ++p) EXPECT_LT(m.indices[p - 1], m.indices[p]);
  }
}

class SplitProperties : public ::testing::TestWithParam<bool> {};

TEST_P(SplitProperties, PartitionsTheInputWithValuesCarried) {
  const Interactions d = synthetic(GetParam());
  const Split s = split_interactions(d, {});
  for (const Csr* m : {&s.train, &s.warm_test}) expect_shape(*m, d);
  ASSERT_EQ(s.cold.size(), kRevealCounts.size());
  const std::set<int32_t> cold(s.cold_users.begin(), s.cold_users.end());
  const auto train = entries(s.train);
  const auto warm_test = entries(s.warm_test);
  std::vector<std::map<Entry, float>> revealed_sets;
  std::vector<std::map<Entry, float>> test_sets;
  for (const auto& set : s.cold) {
    revealed_sets.push_back(entries(set.revealed));
    test_sets.push_back(entries(set.test));
  }
  for (const auto& [entry, value] : entries(d.user_items)) {
    const bool is_cold = cold.count(static_cast<int32_t>(entry.first)) > 0;
    const int in_train = static_cast<int>(train.count(entry));
    const int in_warm_test = static_cast<int>(warm_test.count(entry));
    if (is_cold) {
      EXPECT_EQ(in_train + in_warm_test, 0);
    } else {
      ASSERT_EQ(in_train + in_warm_test, 1) << "user " << entry.first << " item " << entry.second;
      EXPECT_EQ(in_train ? train.at(entry) : warm_test.at(entry), value);
    }
    for (size_t k = 0; k < s.cold.size(); ++k) {
      const auto& revealed = revealed_sets[k];
      const auto& test = test_sets[k];
      const int count = static_cast<int>(revealed.count(entry) + test.count(entry));
      EXPECT_EQ(count, is_cold ? 1 : 0);
      if (is_cold) {
        EXPECT_EQ(revealed.count(entry) ? revealed.at(entry) : test.at(entry), value);
      }
    }
  }
  EXPECT_EQ(static_cast<int64_t>(train.size() + warm_test.size() + revealed_sets[0].size() + test_sets[0].size()),
            d.nnz());
  for (const auto& set : s.cold) {
    expect_shape(set.revealed, d);
    expect_shape(set.test, d);
  }
}

TEST_P(SplitProperties, SizesFollowTheProtocol) {
  const Interactions d = synthetic(GetParam());
  const Split s = split_interactions(d, {});
  int64_t eligible = 0;
  for (int64_t u = 0; u < d.users(); ++u) eligible += d.user_items.row_length(u) >= 6;
  EXPECT_EQ(static_cast<int64_t>(s.cold_users.size()), std::max<int64_t>(1, std::llround(0.1 * eligible)));
  EXPECT_TRUE(std::is_sorted(s.cold_users.begin(), s.cold_users.end()));
  const std::set<int32_t> cold(s.cold_users.begin(), s.cold_users.end());
  for (int64_t u = 0; u < d.users(); ++u) {
    const int64_t length = d.user_items.row_length(u);
    if (cold.count(static_cast<int32_t>(u))) {
      EXPECT_GE(length, 6);
      EXPECT_EQ(s.train.row_length(u), 0);
      for (size_t k = 0; k < s.cold.size(); ++k) {
        EXPECT_EQ(s.cold[k].revealed_count, kRevealCounts[k]);
        EXPECT_EQ(s.cold[k].revealed.row_length(u), kRevealCounts[k]);
        EXPECT_EQ(s.cold[k].test.row_length(u), length - kRevealCounts[k]);
      }
    } else {
      const int64_t held = length >= 2 ? std::max<int64_t>(1, std::llround(0.2 * length)) : 0;
      EXPECT_EQ(s.warm_test.row_length(u), held) << "user " << u << " with " << length;
      EXPECT_EQ(s.train.row_length(u), length - held);
      for (const auto& set : s.cold) EXPECT_EQ(set.revealed.row_length(u) + set.test.row_length(u), 0);
    }
  }
}

TEST_P(SplitProperties, DeterministicForASeedAndDifferentForAnother) {
  const Interactions d = synthetic(GetParam());
  SplitOptions options;
  options.seed = 1234;
  const Split a = split_interactions(d, options);
  const Split b = split_interactions(d, options);
  EXPECT_EQ(a.cold_users, b.cold_users);
  EXPECT_EQ(a.train.indices, b.train.indices);
  EXPECT_EQ(a.warm_test.indices, b.warm_test.indices);
  for (size_t k = 0; k < a.cold.size(); ++k) EXPECT_EQ(a.cold[k].revealed.indices, b.cold[k].revealed.indices);
  options.seed = 99;
  const Split c = split_interactions(d, options);
  EXPECT_NE(a.cold_users, c.cold_users);
}

INSTANTIATE_TEST_SUITE_P(Split, SplitProperties, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "timestamps" : "no_timestamps"; });

TEST(Split, WithTimestampsRevealsTheEarliestAndHoldsOutTheLatest) {
  const Interactions d = synthetic(true);
  const Split s = split_interactions(d, {});
  const Csr& m = d.user_items;
  auto key = [&](int64_t u, int32_t item) {
    for (int64_t p = m.indptr[u]; p < m.indptr[u + 1]; ++p) {
      if (m.indices[p] == item) return std::make_pair(d.timestamps[p], item);
    }
    ADD_FAILURE() << "missing entry";
    return std::make_pair(int64_t{0}, item);
  };
  for (int32_t u : s.cold_users) {
    for (const auto& set : s.cold) {
      for (int32_t revealed : row_items(set.revealed, u)) {
        for (int32_t tested : row_items(set.test, u)) EXPECT_LT(key(u, revealed), key(u, tested));
      }
    }
  }
  for (int64_t u = 0; u < d.users(); ++u) {
    for (int32_t held : row_items(s.warm_test, u)) {
      for (int32_t kept : row_items(s.train, u)) EXPECT_LT(key(u, kept), key(u, held));
    }
  }
}

TEST(Split, HandMadeOrderWithTiesBrokenByItem) {
  // User 0: items 0..5 at times 5, 3, 3, 9, 1, 7 -> order 4, 1, 2, 0, 5, 3.
  // User 1: two items at times 2 (item 0) and 1 (item 1) -> holds out item 0.
  // User 2: one item -> stays in training.
  Interactions d;
  d.user_items = Csr::from_triplets(3, 6, {0, 0, 0, 0, 0, 0, 1, 1, 2}, {0, 1, 2, 3, 4, 5, 0, 1, 3},
                                    {1, 2, 3, 4, 5, 6, 7, 8, 9});
  d.timestamps = {5, 3, 3, 9, 1, 7, 2, 1, 4};
  d.user_ids = {"a", "b", "c"};
  d.item_ids = {"0", "1", "2", "3", "4", "5"};
  const Split s = split_interactions(d, {});
  ASSERT_EQ(s.cold_users, (std::vector<int32_t>{0}));  // the only eligible user; round(0.1) -> at least 1
  EXPECT_EQ(row_items(s.cold[0].revealed, 0), (std::set<int32_t>{4}));
  EXPECT_EQ(row_items(s.cold[1].revealed, 0), (std::set<int32_t>{4, 1, 2}));
  EXPECT_EQ(row_items(s.cold[2].revealed, 0), (std::set<int32_t>{4, 1, 2, 0, 5}));
  EXPECT_EQ(row_items(s.cold[2].test, 0), (std::set<int32_t>{3}));
  EXPECT_EQ(row_items(s.warm_test, 1), (std::set<int32_t>{0}));
  EXPECT_EQ(row_items(s.train, 1), (std::set<int32_t>{1}));
  EXPECT_EQ(row_items(s.train, 2), (std::set<int32_t>{3}));
  EXPECT_EQ(s.warm_test.row_length(2), 0);
  EXPECT_EQ(s.train.row_length(0), 0);
  EXPECT_EQ(s.cold[2].test.values, (std::vector<float>{4}));
}

TEST(Split, NoEligibleUsersMeansNoColdUsers) {
  Interactions d;
  d.user_items = Csr::from_triplets(2, 3, {0, 0, 1}, {0, 1, 2}, {1, 1, 1});
  d.user_ids = {"a", "b"};
  d.item_ids = {"x", "y", "z"};
  const Split s = split_interactions(d, {});
  EXPECT_TRUE(s.cold_users.empty());
  EXPECT_EQ(s.warm_test.nnz(), 1);
  EXPECT_EQ(s.train.nnz(), 2);
}

TEST(Split, RejectsBadOptions) {
  const Interactions d = synthetic(false);
  SplitOptions options;
  options.cold_fraction = 1.5;
  EXPECT_THROW(split_interactions(d, options), Error);
  options = {};
  options.warm_test_fraction = -0.1;
  EXPECT_THROW(split_interactions(d, options), Error);
}

}  // namespace
}  // namespace cohort
