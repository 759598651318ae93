// Ranking metrics and clustering agreement on examples worked out by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/evaluate/metrics.hpp"
#include "kernels/error.hpp"

namespace cohort {
namespace {

constexpr double kTol = 1e-9;

Csr test_sets(int64_t items, const std::vector<std::vector<int32_t>>& rows) {
  std::vector<int32_t> r, c;
  std::vector<float> v;
  for (size_t u = 0; u < rows.size(); ++u) {
    for (int32_t i : rows[u]) {
      r.push_back(static_cast<int32_t>(u));
      c.push_back(i);
      v.push_back(1.0f);
    }
  }
  return Csr::from_triplets(static_cast<int64_t>(rows.size()), items, r, c, v);
}

TopK top_k(int k, const std::vector<std::vector<int32_t>>& lists) {
  TopK t;
  t.rows = static_cast<int64_t>(lists.size());
  t.k = k;
  for (const auto& l : lists) {
    for (int j = 0; j < k; ++j) {
      t.items.push_back(j < static_cast<int>(l.size()) ? l[j] : -1);
      t.scores.push_back(static_cast<float>(k - j));
    }
  }
  return t;
}

double value(const UserMetrics& m, int64_t row, const std::string& name) {
  for (size_t c = 0; c < m.names.size(); ++c) {
    if (m.names[c] == name) return m.values[static_cast<size_t>(row) * m.names.size() + c];
  }
  ADD_FAILURE() << "no metric " << name;
  return std::nan("");
}

// 14 items, cutoffs 3 and 10, top-10 lists.
//   user 0: test {1,3,5};      list 1 2 3 4 6 7 8 9 0 5   hits at ranks 1, 3, 10
//   user 1: test {0};          list 2 4 0 (then -1)        hit at rank 3
//   user 2: no test;           list 12 13                  excluded everywhere
//   user 3: test {8,9};        list 0..7 (then -1)         no hit
//   user 4: test {0,1,2,3,4};  list 5 0 1 6 7 8 9 10 11 2  hits at ranks 2, 3, 10
class RankingExample : public ::testing::Test {
 protected:
  void SetUp() override {
    test_ = test_sets(14, {{1, 3, 5}, {0}, {}, {8, 9}, {0, 1, 2, 3, 4}});
    recs_ = top_k(10, {{1, 2, 3, 4, 6, 7, 8, 9, 0, 5},
                       {2, 4, 0},
                       {12, 13},
                       {0, 1, 2, 3, 4, 5, 6, 7},
                       {5, 0, 1, 6, 7, 8, 9, 10, 11, 2}});
    m_ = score_users(recs_, test_, cutoffs_);
  }
  std::vector<int> cutoffs_{3, 10};
  Csr test_;
  TopK recs_;
  UserMetrics m_;
};

TEST_F(RankingExample, NamesAndTestFlags) {
  const std::vector<std::string> expected = {"precision@3",  "recall@3",  "f1@3",       "ndcg@3",  "map@3",
                                             "hit_rate@3",   "mrr@3",     "precision@10", "recall@10", "f1@10",
                                             "ndcg@10",      "map@10",    "hit_rate@10",  "mrr@10"};
  EXPECT_EQ(m_.names, expected);
  EXPECT_EQ(m_.has_test, (std::vector<bool>{true, true, false, true, true}));
  ASSERT_EQ(m_.values.size(), 5 * expected.size());
}

TEST_F(RankingExample, UserWithHitsAtRanksOneThreeAndTen) {
  // @3: 2 hits. precision = recall = f1 = 2/3.
  //   DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG over min(3, 3) = 1 + 1/log2(3) + 1/2 = 2.1309297536
  //   ndcg = 0.7039180890; map = (1/1 + 2/3) / 3 = 5/9; mrr = 1.
  EXPECT_NEAR(value(m_, 0, "precision@3"), 2.0 / 3.0, kTol);
  EXPECT_NEAR(value(m_, 0, "recall@3"), 2.0 / 3.0, kTol);
  EXPECT_NEAR(value(m_, 0, "f1@3"), 2.0 / 3.0, kTol);
  EXPECT_NEAR(value(m_, 0, "ndcg@3"), 0.7039180890341347, kTol);
  EXPECT_NEAR(value(m_, 0, "map@3"), 5.0 / 9.0, kTol);
  EXPECT_EQ(value(m_, 0, "hit_rate@3"), 1.0);
  EXPECT_EQ(value(m_, 0, "mrr@3"), 1.0);
  // @10: 3 hits. precision 0.3, recall 1, f1 = 2 * 0.3 / 1.3 = 6/13.
  //   DCG = 1.5 + 1/log2(11) = 1.7890648263; ndcg = 1.7890648263 / 2.1309297536 = 0.8395700625
  //   map = (1 + 2/3 + 3/10) / min(3, 10) = 59/90.
  EXPECT_NEAR(value(m_, 0, "precision@10"), 0.3, kTol);
  EXPECT_NEAR(value(m_, 0, "recall@10"), 1.0, kTol);
  EXPECT_NEAR(value(m_, 0, "f1@10"), 6.0 / 13.0, kTol);
  EXPECT_NEAR(value(m_, 0, "ndcg@10"), 0.8395700624665824, kTol);
  EXPECT_NEAR(value(m_, 0, "map@10"), 59.0 / 90.0, kTol);
  EXPECT_EQ(value(m_, 0, "mrr@10"), 1.0);
}

TEST_F(RankingExample, ShortListWithOneLateHit) {
  // @3: precision 1/3, recall 1, f1 = (2/3) / (4/3) = 1/2; DCG = 1/log2(4) = 0.5, IDCG = 1;
  //     map = (1/3) / min(1, 3) = 1/3; mrr = 1/3.
  EXPECT_NEAR(value(m_, 1, "precision@3"), 1.0 / 3.0, kTol);
  EXPECT_NEAR(value(m_, 1, "f1@3"), 0.5, kTol);
  EXPECT_NEAR(value(m_, 1, "ndcg@3"), 0.5, kTol);
  EXPECT_NEAR(value(m_, 1, "map@3"), 1.0 / 3.0, kTol);
  EXPECT_NEAR(value(m_, 1, "mrr@3"), 1.0 / 3.0, kTol);
  // @10: the -1 padding counts as misses: precision 1/10, f1 = 0.2 / 1.1 = 2/11.
  EXPECT_NEAR(value(m_, 1, "precision@10"), 0.1, kTol);
  EXPECT_NEAR(value(m_, 1, "f1@10"), 2.0 / 11.0, kTol);
  EXPECT_NEAR(value(m_, 1, "ndcg@10"), 0.5, kTol);
}

TEST_F(RankingExample, NoHitsAndNoTestGiveZeros) {
  for (size_t c = 0; c < m_.names.size(); ++c) {
    EXPECT_EQ(value(m_, 3, m_.names[c]), 0.0) << m_.names[c];
    EXPECT_EQ(value(m_, 2, m_.names[c]), 0.0) << m_.names[c];
  }
}

TEST_F(RankingExample, LargeTestSetCapsIdealAtK) {
  // @3: hits at ranks 2, 3 of 5 relevant. precision 2/3, recall 2/5, f1 = (8/15)/(16/15) = 1/2.
  //   DCG = 1/log2(3) + 1/log2(4) = 1.1309297536; IDCG over min(5, 3) = 2.1309297536 -> 0.5307212740
  //   map = (1/2 + 2/3) / 3 = 7/18; mrr = 1/2.
  EXPECT_NEAR(value(m_, 4, "recall@3"), 0.4, kTol);
  EXPECT_NEAR(value(m_, 4, "f1@3"), 0.5, kTol);
  EXPECT_NEAR(value(m_, 4, "ndcg@3"), 0.5307212739772434, kTol);
  EXPECT_NEAR(value(m_, 4, "map@3"), 7.0 / 18.0, kTol);
  EXPECT_NEAR(value(m_, 4, "mrr@3"), 0.5, kTol);
  // @10: hits at ranks 2, 3, 10. precision 0.3, recall 0.6, f1 = 0.36 / 0.9 = 0.4.
  //   DCG = 1.1309297536 + 1/log2(11) = 1.4199945799; IDCG over min(5, 10) = 2.9484591189
  //   ndcg = 0.4816056532; map = (1/2 + 2/3 + 3/10) / 5 = 22/75.
  EXPECT_NEAR(value(m_, 4, "recall@10"), 0.6, kTol);
  EXPECT_NEAR(value(m_, 4, "f1@10"), 0.4, kTol);
  EXPECT_NEAR(value(m_, 4, "ndcg@10"), 0.48160565320269266, kTol);
  EXPECT_NEAR(value(m_, 4, "map@10"), 22.0 / 75.0, kTol);
}

TEST_F(RankingExample, SummaryAveragesUsersWithTestOnly) {
  const MetricSet s = summarize(m_, recs_, 14, cutoffs_);
  // Users 0, 1, 3, 4 (user 2 has no test set).
  EXPECT_NEAR(s.at("precision@3"), (2.0 / 3 + 1.0 / 3 + 0 + 2.0 / 3) / 4, kTol);  // 5/12
  EXPECT_NEAR(s.at("ndcg@3"), (0.7039180890341347 + 0.5 + 0 + 0.5307212739772434) / 4, kTol);
  EXPECT_NEAR(s.at("map@10"), (59.0 / 90 + 1.0 / 3 + 0 + 22.0 / 75) / 4, kTol);
  EXPECT_NEAR(s.at("mrr@3"), 11.0 / 24.0, kTol);  // (1 + 1/3 + 0 + 1/2) / 4
  EXPECT_NEAR(s.at("hit_rate@10"), 0.75, kTol);
  EXPECT_NEAR(s.at("recall@10"), 0.65, kTol);  // (1 + 1 + 0 + 0.6) / 4
  // Top-3 of users 0, 1, 3, 4: {1,2,3} {2,4,0} {0,1,2} {5,0,1} = 6 distinct of 14.
  EXPECT_NEAR(s.at("coverage@3"), 6.0 / 14.0, kTol);
  // Top-10: users 0 and 4 cover 0..11; user 2's 12 and 13 do not count.
  EXPECT_NEAR(s.at("coverage@10"), 12.0 / 14.0, kTol);
  EXPECT_EQ(s.size(), 16u);
}

TEST_F(RankingExample, SummaryOverASubset) {
  // Subset {1, 2}: user 2 has no test, so only user 1 counts.
  const MetricSet s = summarize_rows(m_, recs_, 14, {1, 2}, cutoffs_);
  EXPECT_NEAR(s.at("precision@3"), 1.0 / 3.0, kTol);
  EXPECT_NEAR(s.at("mrr@10"), 1.0 / 3.0, kTol);
  EXPECT_NEAR(s.at("coverage@3"), 3.0 / 14.0, kTol);
  // Only users without a test set: every mean is 0.
  const MetricSet none = summarize_rows(m_, recs_, 14, {2}, cutoffs_);
  EXPECT_EQ(none.at("ndcg@10"), 0.0);
  EXPECT_EQ(none.at("coverage@10"), 0.0);
  // No rows at all (a group without warm test users) is not "every row".
  const MetricSet empty = summarize_rows(m_, recs_, 14, {}, cutoffs_);
  EXPECT_EQ(empty.at("precision@3"), 0.0);
  EXPECT_EQ(empty.at("coverage@3"), 0.0);
}

TEST(RankingMetrics, ShortListsScoredAtTheDefaultCutoffs) {
  // k = 5 lists scored at 10 and 20 (kMetricCutoffs): the missing ranks are misses.
  const Csr test = test_sets(30, {{4, 20}});
  const TopK recs = top_k(5, {{4, 1, 2, 3, 20}});
  const UserMetrics m = score_users(recs, test);
  EXPECT_EQ(m.names.size(), 14u);
  EXPECT_NEAR(value(m, 0, "precision@10"), 0.2, kTol);
  EXPECT_NEAR(value(m, 0, "precision@20"), 0.1, kTol);
  EXPECT_NEAR(value(m, 0, "recall@20"), 1.0, kTol);
  // Hits at ranks 1 and 5: DCG = 1 + 1/log2(6); IDCG = 1 + 1/log2(3). map = (1 + 2/5) / 2.
  EXPECT_NEAR(value(m, 0, "ndcg@10"), (1.0 + 1.0 / std::log2(6.0)) / (1.0 + 1.0 / std::log2(3.0)), kTol);
  EXPECT_NEAR(value(m, 0, "map@10"), 0.7, kTol);
  const MetricSet s = summarize(m, recs, 30);
  EXPECT_NEAR(s.at("coverage@20"), 5.0 / 30.0, kTol);
  EXPECT_TRUE(s.count("hit_rate@20"));
}

TEST(RankingMetrics, BadShapesAreRejected) {
  const Csr test = test_sets(5, {{1}, {2}});
  const std::vector<int> cutoffs = {3};
  EXPECT_THROW(score_users(top_k(3, {{1, 2, 3}}), test, cutoffs), Error);  // 1 row for 2
  EXPECT_THROW(score_users(top_k(3, {{1}, {9}}), test, cutoffs), Error);   // item 9 of 5
  EXPECT_THROW(score_users(top_k(3, {{1}, {2}}), test, {0}), Error);       // cutoff 0
  const TopK recs = top_k(3, {{1}, {2}});
  const UserMetrics m = score_users(recs, test, cutoffs);
  EXPECT_THROW(summarize_rows(m, recs, 5, {7}, cutoffs), Error);  // subset row outside
}

// Two users, f = 2; predictions worked out by hand: user 0 . item 1 = 1*3 + 2*0 = 3 against
// 4 (error -1), user 0 . item 2 = 1*1 + 2*1 = 3 against 3 (0), user 1 . item 0 = 2*0.5 +
// 0*7 = 1 against 3 (-2). RMSE sqrt(5/3), MAE 1; the baseline 3.5 errs 0.5, 0.5, 0.5.
TEST(RatingErrors, AgainstHeldOutRatings) {
  Matrix users(2, 2), items(3, 2);
  users.data = {1, 2, 2, 0};
  items.data = {0.5f, 7, 3, 0, 1, 1};
  const Csr test = Csr::from_triplets(2, 3, {0, 0, 1}, {1, 2, 0}, {4.0f, 3.0f, 3.0f});
  const RatingErrors e = rating_errors(users, items, test, 3.5);
  EXPECT_EQ(e.ratings, 3);
  EXPECT_NEAR(e.rmse, std::sqrt(5.0 / 3.0), kTol);
  EXPECT_NEAR(e.mae, 1.0, kTol);
  EXPECT_NEAR(e.baseline_rmse, 0.5, kTol);
  EXPECT_EQ(rating_errors(users, items, Csr::empty(2, 3), 3.5).ratings, 0);
  EXPECT_THROW(rating_errors(users, items, Csr::empty(3, 3), 3.5), Error);
}

TEST(Clustering, IdenticalAndPermutedLabelingsScoreOne) {
  const std::vector<int32_t> a = {0, 0, 1, 1, 2, 2, 2};
  const std::vector<int32_t> permuted = {5, 5, 0, 0, 3, 3, 3};
  EXPECT_NEAR(adjusted_rand_index(a, a), 1.0, kTol);
  EXPECT_NEAR(adjusted_rand_index(a, permuted), 1.0, kTol);
  EXPECT_NEAR(normalized_mutual_info(a, a), 1.0, kTol);
  EXPECT_NEAR(normalized_mutual_info(a, permuted), 1.0, kTol);
}

TEST(Clustering, HandWorkedAri) {
  // a = 000111, b = 001122. Contingency rows a: (2,1,0) (0,1,2).
  //   Index = C(2,2) + C(2,2) = 2; sum_a = 2 C(3,2) = 6; sum_b = 3 C(2,2) = 3; C(6,2) = 15
  //   Expected = 6 * 3 / 15 = 1.2; Max = 4.5; ARI = 0.8 / 3.3 = 8/33.
  EXPECT_NEAR(adjusted_rand_index({0, 0, 0, 1, 1, 1}, {0, 0, 1, 1, 2, 2}), 8.0 / 33.0, kTol);
  // a = 0012, b = 0011: Index 1, sum_a 1, sum_b 2, Expected 2/6, Max 1.5 -> (2/3)/(7/6) = 4/7.
  EXPECT_NEAR(adjusted_rand_index({0, 0, 1, 2}, {0, 0, 1, 1}), 4.0 / 7.0, kTol);
  // Crossed halves: Index 0, Expected 4/6, Max 2 -> -(2/3)/(4/3) = -1/2.
  EXPECT_NEAR(adjusted_rand_index({0, 0, 1, 1}, {0, 1, 0, 1}), -0.5, kTol);
}

TEST(Clustering, HandWorkedNmi) {
  // a = 000111, b = 001122. H(a) = ln 2, H(b) = ln 3.
  //   I = 2/6 ln(6*2/(3*2)) + 1/6 ln(6/(3*2)) * 2 + 2/6 ln 2 = (2/3) ln 2
  //   NMI = (2/3) ln 2 / ((ln 2 + ln 3) / 2) = (4/3) ln 2 / ln 6 = 0.5158037429
  EXPECT_NEAR(normalized_mutual_info({0, 0, 0, 1, 1, 1}, {0, 0, 1, 1, 2, 2}),
              4.0 / 3.0 * std::log(2.0) / std::log(6.0), kTol);
  // Independent labelings share no information.
  EXPECT_NEAR(normalized_mutual_info({0, 0, 1, 1}, {0, 1, 0, 1}), 0.0, kTol);
}

TEST(Clustering, NegativeLabelsAreIgnored) {
  const std::vector<int32_t> a = {0, 0, 0, 1, 1, 1, -1, 4, 2};
  const std::vector<int32_t> b = {0, 0, 1, 1, 2, 2, 7, -1, -3};
  EXPECT_NEAR(adjusted_rand_index(a, b), 8.0 / 33.0, kTol);
  EXPECT_NEAR(normalized_mutual_info(a, b), 4.0 / 3.0 * std::log(2.0) / std::log(6.0), kTol);
}

TEST(Clustering, SingleClusterConventions) {
  const std::vector<int32_t> one = {3, 3, 3, 3};
  const std::vector<int32_t> two = {0, 0, 1, 1};
  EXPECT_EQ(normalized_mutual_info(one, one), 1.0);
  EXPECT_EQ(normalized_mutual_info(one, two), 0.0);
  EXPECT_EQ(normalized_mutual_info(two, one), 0.0);
  EXPECT_EQ(adjusted_rand_index(one, one), 1.0);
  EXPECT_EQ(adjusted_rand_index(one, two), 0.0);
  EXPECT_EQ(adjusted_rand_index({0, 1, 2}, {5, 6, 7}), 1.0);  // all singletons on both sides
}

TEST(Clustering, MismatchedLengthsAreRejected) {
  EXPECT_THROW(adjusted_rand_index({0, 1}, {0}), Error);
  EXPECT_THROW(normalized_mutual_info({0}, {0, 1}), Error);
}

}  // namespace
}  // namespace cohort
