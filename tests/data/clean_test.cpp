#include "engine/data/clean.hpp"

#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "data/temp_dir.hpp"

namespace cohort {
namespace {

using ::testing::HasSubstr;
using testing::error_of;

Interactions make(int64_t users, int64_t items, const std::vector<int32_t>& row, const std::vector<int32_t>& col,
                  const std::vector<float>& value) {
  Interactions d;
  d.user_items = Csr::from_triplets(users, items, row, col, value);
  for (int64_t u = 0; u < users; ++u) d.user_ids.push_back(fmt::format("u{}", u));
  for (int64_t i = 0; i < items; ++i) d.item_ids.push_back(fmt::format("i{}", i));
  return d;
}

TEST(FilterMinCounts, IteratesUntilStable) {
  // u0 {i0, i1}, u1 {i0, i1}, u2 {i1, i2}, u3 {i2}; thresholds 2 and 2.
  // Pass 1 drops u3 (1 item), then i2 (only u2 left on it); pass 2 drops u2 (now 1 item).
  Interactions d = make(4, 3, {0, 0, 1, 1, 2, 2, 3}, {0, 1, 0, 1, 1, 2, 2}, {1, 2, 3, 4, 5, 6, 7});
  d.timestamps = {10, 11, 12, 13, 14, 15, 16};
  d.skipped_lines = 3;
  d.duplicates_merged = 1;
  Interactions f = filter_min_counts(d, 2, 2);
  EXPECT_EQ(f.user_ids, (std::vector<std::string>{"u0", "u1"}));
  EXPECT_EQ(f.item_ids, (std::vector<std::string>{"i0", "i1"}));
  EXPECT_EQ(f.user_items.indptr, (std::vector<int64_t>{0, 2, 4}));
  EXPECT_EQ(f.user_items.indices, (std::vector<int32_t>{0, 1, 0, 1}));
  EXPECT_EQ(f.user_items.values, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(f.timestamps, (std::vector<int64_t>{10, 11, 12, 13}));
  EXPECT_EQ(f.skipped_lines, 3);
  EXPECT_EQ(f.duplicates_merged, 1);
}

TEST(FilterMinCounts, RemapsSurvivorsInOrder) {
  // Item i1 is held by one user only and goes; i2 becomes column 1.
  Interactions d = make(3, 3, {0, 0, 1, 1, 2}, {0, 2, 0, 2, 1}, {1, 1, 1, 1, 1});
  Interactions f = filter_min_counts(d, 1, 2);
  EXPECT_EQ(f.item_ids, (std::vector<std::string>{"i0", "i2"}));
  EXPECT_EQ(f.user_ids, (std::vector<std::string>{"u0", "u1"}));
  EXPECT_EQ(f.user_items.indices, (std::vector<int32_t>{0, 1, 0, 1}));
  EXPECT_FALSE(f.has_timestamps());
}

TEST(FilterMinCounts, ZeroThresholdsKeepEverything) {
  Interactions d = make(2, 2, {0, 1}, {1, 0}, {1, 2});
  Interactions f = filter_min_counts(d, 0, 0);
  EXPECT_EQ(f.user_items.indices, d.user_items.indices);
  EXPECT_EQ(f.user_ids, d.user_ids);
}

TEST(FilterMinCounts, TooFewLeftNamesTheThresholds) {
  Interactions d = make(3, 3, {0, 0, 1, 2}, {0, 1, 1, 2}, {1, 1, 1, 1});
  std::string message = error_of([&] { filter_min_counts(d, 5, 1); }, Status::bad_input);
  EXPECT_THAT(message, HasSubstr("min_user_count 5"));
  EXPECT_THAT(message, HasSubstr("min_item_count 1"));
  error_of([&] { filter_min_counts(d, -1, 1); }, Status::invalid_argument);
}

TEST(Binarize, KeepsValuesAtOrAboveTheThreshold) {
  Csr m = Csr::from_triplets(2, 3, {0, 0, 1, 1}, {0, 2, 1, 2}, {1.0f, 4.0f, 3.5f, 2.0f});
  Csr b = binarize(m, 3.5f);
  EXPECT_EQ(b.indptr, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(b.indices, (std::vector<int32_t>{2, 1}));
  EXPECT_EQ(b.values, (std::vector<float>{1.0f, 1.0f}));
  EXPECT_EQ(b.rows, 2);
  EXPECT_EQ(b.cols, 3);
}

TEST(Confidence, LinearAndLog) {
  Csr m = Csr::from_triplets(1, 2, {0, 0}, {0, 1}, {1.0f, 3.0f});
  Csr linear = confidence(m, 40.0f, ConfidenceScale::linear);
  EXPECT_FLOAT_EQ(linear.values[0], 41.0f);
  EXPECT_FLOAT_EQ(linear.values[1], 121.0f);
  Csr log = confidence(m, 2.0f, ConfidenceScale::log, 0.5f);
  EXPECT_FLOAT_EQ(log.values[0], 1.0f + 2.0f * std::log(3.0f));  // 1 + 2 log(1 + 1 / 0.5)
  EXPECT_FLOAT_EQ(log.values[1], 1.0f + 2.0f * std::log(7.0f));
  EXPECT_EQ(log.indices, m.indices);
  error_of([&] { confidence(m, 1.0f, ConfidenceScale::log, 0.0f); }, Status::invalid_argument);
  error_of([&] { confidence(m, -1.0f, ConfidenceScale::linear); }, Status::invalid_argument);
}

// u0: i0 = 1, i1 = 2; u1: i0 = 3; u2: i2 = 1. Users N = 3; df = {2, 1, 1}.
Csr weighting_case() { return Csr::from_triplets(3, 3, {0, 0, 1, 2}, {0, 1, 0, 2}, {1, 2, 3, 1}); }

TEST(Bm25Weight, MatchesTheFormulaByHand) {
  const double k1 = 1.2;
  const double b = 0.75;
  // Lengths (sums of values) 3, 3, 1; average 7/3.
  const double idf0 = std::log(3.0) - std::log(3.0);  // df 2: log N - log(1 + df) = 0
  const double idf1 = std::log(3.0) - std::log(2.0);
  const double norm_u0 = (1 - b) + b * 3.0 / (7.0 / 3.0);
  const double norm_u2 = (1 - b) + b * 1.0 / (7.0 / 3.0);
  Csr w = bm25_weight(weighting_case(), 1.2f, 0.75f);
  ASSERT_EQ(w.values.size(), 4u);
  EXPECT_NEAR(w.values[0], 1.0 * (k1 + 1) / (k1 * norm_u0 + 1.0) * idf0, 1e-6);
  EXPECT_NEAR(w.values[1], 2.0 * (k1 + 1) / (k1 * norm_u0 + 2.0) * idf1, 1e-6);
  EXPECT_NEAR(w.values[3], 1.0 * (k1 + 1) / (k1 * norm_u2 + 1.0) * idf1, 1e-6);
  EXPECT_NEAR(w.values[3], 0.5292, 1e-3);  // 2.2 / (1.2 * 0.5714 + 1) * 0.4055
  EXPECT_EQ(w.indices, weighting_case().indices);
}

TEST(TfidfWeight, MatchesTheFormulaByHand) {
  Csr w = tfidf_weight(weighting_case());
  EXPECT_NEAR(w.values[0], 1.0 * std::log(3.0 / 3.0), 1e-6);
  EXPECT_NEAR(w.values[1], 2.0 * std::log(3.0 / 2.0), 1e-6);
  EXPECT_NEAR(w.values[2], 3.0 * std::log(3.0 / 3.0), 1e-6);
  EXPECT_NEAR(w.values[3], 1.0 * std::log(3.0 / 2.0), 1e-6);
}

}  // namespace
}  // namespace cohort
