// Recommenders on hand-made matrices whose answers are worked out in the comments.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <set>
#include <vector>

#include "engine/comm/communicator.hpp"
#include "engine/recommend/recommend.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/error.hpp"

namespace cohort {
namespace {

// rows[r] lists the items of row r, every value 1.
Csr make_csr(int64_t cols, const std::vector<std::vector<int32_t>>& rows) {
  std::vector<int32_t> r, c;
  for (size_t i = 0; i < rows.size(); ++i)
    for (int32_t j : rows[i]) {
      r.push_back(static_cast<int32_t>(i));
      c.push_back(j);
    }
  return Csr::from_triplets(static_cast<int64_t>(rows.size()), cols, r, c, std::vector<float>(r.size(), 1.0f));
}

std::vector<int32_t> row_of(const TopK& t, int64_t r) { return std::vector<int32_t>(t.row(r), t.row(r) + t.k); }

class RecommendTest : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> backend_ = make_cpu_backend(2);
  std::unique_ptr<Communicator> comm_ = make_self_communicator();
  Context ctx_{*backend_, *comm_, 3, 0, {}};
};

// Item i is held by 5 - i users: popularity 1, .8, .6, .4, .2.
Csr staircase() { return make_csr(5, {{0, 1, 2, 3, 4}, {0, 1, 2, 3}, {0, 1, 2}, {0, 1}, {0}}); }

TEST_F(RecommendTest, PopularityKnownOrderWithoutSeenItemsAndPadded) {
  const RecommendModel model = build_recommend_model(staircase(), std::vector<int32_t>(5, -1), 0);
  ASSERT_EQ(model.items, 5);
  const std::vector<float> expected = {1.0f, 0.8f, 0.6f, 0.4f, 0.2f};
  for (int i = 0; i < 5; ++i) EXPECT_FLOAT_EQ(model.popularity[i], expected[i]);

  Queries q;
  q.seen = make_csr(5, {{1, 3}, {0, 1, 2}, {}});
  const TopK t = recommend(ctx_, RecommenderKind::popularity, model, q, 4);
  ASSERT_EQ(t.rows, 3);
  ASSERT_EQ(t.k, 4);
  EXPECT_EQ(row_of(t, 0), (std::vector<int32_t>{0, 2, 4, -1}));
  EXPECT_NEAR(t.scores[0], 1.0f, 1e-6);
  EXPECT_NEAR(t.scores[1], 0.6f, 1e-6);
  EXPECT_EQ(row_of(t, 1), (std::vector<int32_t>{3, 4, -1, -1}));
  EXPECT_EQ(row_of(t, 2), (std::vector<int32_t>{0, 1, 2, 3}));
}

TEST_F(RecommendTest, PopularityNeverReturnsSeenItemsAcrossBlocks) {
  // More queries than one scoring block, random seen sets.
  std::mt19937 gen(5);
  const int items = 30;
  std::vector<std::vector<int32_t>> train_rows(50), seen_rows(4500);
  std::bernoulli_distribution coin(0.3);
  for (auto* rows : {&train_rows, &seen_rows})
    for (auto& row : *rows)
      for (int i = 0; i < items; ++i)
        if (coin(gen)) row.push_back(i);
  const RecommendModel model = build_recommend_model(make_csr(items, train_rows), std::vector<int32_t>(50, -1), 0);
  Queries q;
  q.seen = make_csr(items, seen_rows);
  const TopK t = recommend(ctx_, RecommenderKind::popularity, model, q, 10);
  for (size_t u = 0; u < seen_rows.size(); ++u) {
    const std::set<int32_t> seen(seen_rows[u].begin(), seen_rows[u].end());
    const int unseen = items - static_cast<int>(seen.size());
    for (int j = 0; j < 10; ++j) {
      const int32_t i = t.row(static_cast<int64_t>(u))[j];
      if (j < unseen) {
        ASSERT_GE(i, 0) << "user " << u;
        EXPECT_EQ(seen.count(i), 0u) << "user " << u << " got seen item " << i;
        if (j > 0) {
          EXPECT_GE(model.popularity[t.row(u)[j - 1]], model.popularity[i]);
        }
      } else {
        EXPECT_EQ(i, -1);
      }
    }
  }
}

// Group 0 = users 0-2, group 1 = users 3-5.
//   group 0 holds item 0 three times, item 1 twice, items 2 and 5 once: 1, 2/3, 1/3, 0, 0, 1/3
//   group 1 holds item 3 three times, items 4 and 5 once:              0, 0, 0, 1, 1/3, 1/3
Csr two_groups() { return make_csr(6, {{0, 1}, {0, 2}, {0, 1, 5}, {3, 4}, {3, 5}, {3}}); }

TEST_F(RecommendTest, GroupScoresAreSharesScaledToOne) {
  const RecommendModel model = build_recommend_model(two_groups(), {0, 0, 0, 1, 1, 1}, 2);
  ASSERT_EQ(model.group_scores.rows, 2);
  ASSERT_EQ(model.group_scores.cols, 6);
  const std::vector<float> g0 = {1.0f, 2.0f / 3, 1.0f / 3, 0.0f, 0.0f, 1.0f / 3};
  const std::vector<float> g1 = {0.0f, 0.0f, 0.0f, 1.0f, 1.0f / 3, 1.0f / 3};
  for (int i = 0; i < 6; ++i) {
    EXPECT_NEAR(model.group_scores.row(0)[i], g0[i], 1e-6) << i;
    EXPECT_NEAR(model.group_scores.row(1)[i], g1[i], 1e-6) << i;
  }
}

TEST_F(RecommendTest, GroupRecommendsTheGroupsMostSharedItems) {
  const RecommendModel model = build_recommend_model(two_groups(), {0, 0, 0, 1, 1, 1}, 2);
  Queries q;
  q.seen = make_csr(6, {{}, {0}, {}, {}});
  q.group = {1, 0, -1, 0};
  const TopK t = recommend(ctx_, RecommenderKind::group, model, q, 3);
  EXPECT_EQ(row_of(t, 0), (std::vector<int32_t>{3, 4, 5}));  // 4 and 5 tie: ascending index
  EXPECT_EQ(row_of(t, 1), (std::vector<int32_t>{1, 2, 5}));
  // No group: popularity, counts 3, 2, 1, 3, 1, 2.
  EXPECT_EQ(row_of(t, 2), (std::vector<int32_t>{0, 3, 1}));
  EXPECT_EQ(row_of(t, 3), (std::vector<int32_t>{0, 1, 2}));
  EXPECT_NEAR(t.scores[3 * 3 + 1], 2.0f / 3, 1e-6);
}

TEST_F(RecommendTest, EmbeddingScoresDotProducts) {
  RecommendModel model = build_recommend_model(make_csr(4, {{0}}), {-1}, 0);
  // f = 2; item scores of x = (1, 2): 1, 2, -1, 3.
  model.item_factors.rows = 4;
  model.item_factors.cols = 2;
  model.item_factors.data = {1, 0, 0, 1, -1, 0, 1, 1};
  Queries q;
  q.seen = make_csr(4, {{}, {3}});
  q.factors.rows = 2;
  q.factors.cols = 2;
  q.factors.data = {1, 2, 1, 2};
  const TopK t = recommend(ctx_, RecommenderKind::embedding, model, q, 4);
  EXPECT_EQ(row_of(t, 0), (std::vector<int32_t>{3, 1, 0, 2}));
  EXPECT_NEAR(t.scores[0], 3.0f, 1e-6);
  EXPECT_NEAR(t.scores[3], -1.0f, 1e-6);
  EXPECT_EQ(row_of(t, 1), (std::vector<int32_t>{1, 0, 2, -1}));
}

// text: sharpness * cos(profile, v_i) + log(popularity_i + 1e-3), seen items skipped.
TEST_F(RecommendTest, TextWeighsTextSimilarityAgainstLogPopularity) {
  RecommendModel model = build_recommend_model(staircase(), {-1, -1, -1, -1, -1}, 0);  // 1, .8, .6, .4, .2
  model.item_text = Matrix(5, 2);
  model.item_text.data = {1, 0, 1, 0, 0, 1, 0, 1, 0.6f, 0.8f};
  model.text_sharpness = 4.0;
  Queries q;
  q.seen = make_csr(5, {{}, {0}});
  q.text_profiles = Matrix(2, 2);
  q.text_profiles.data = {0, 1, 0, 1};  // both users read about the second topic
  const TopK t = recommend(ctx_, RecommenderKind::text, model, q, 5);
  // Item scores: 0: log 1.001 = 0.001; 1: log .801 = -0.222; 2: 4 + log .601 = 3.491;
  // 3: 4 + log .401 = 3.086; 4: 3.2 + log .201 = 1.598.
  EXPECT_EQ(row_of(t, 0), (std::vector<int32_t>{2, 3, 4, 0, 1}));
  EXPECT_NEAR(t.scores[0], 4.0 + std::log(0.601), 1e-5);
  EXPECT_NEAR(t.scores[4], std::log(0.801), 1e-5);
  EXPECT_EQ(row_of(t, 1), (std::vector<int32_t>{2, 3, 4, 1, -1}));
  // With no sharpness the text does not count: popularity's order.
  model.text_sharpness = 0.0;
  EXPECT_EQ(row_of(recommend(ctx_, RecommenderKind::text, model, q, 5), 0), (std::vector<int32_t>{0, 1, 2, 3, 4}));
  // Without text vectors, or with profiles of another width, the error says so.
  model.text_sharpness = 4.0;
  q.text_profiles.cols = 3;
  q.text_profiles.data.resize(6);
  EXPECT_THROW(recommend(ctx_, RecommenderKind::text, model, q, 5), Error);
  model.item_text = Matrix();
  EXPECT_THROW(recommend(ctx_, RecommenderKind::text, model, q, 5), Error);
}

TEST_F(RecommendTest, EmbeddingMatchesBruteForceOverManyBlocks) {
  std::mt19937 gen(9);
  std::normal_distribution<float> normal;
  const int items = 40, f = 4, users = 5000, k = 5;
  RecommendModel model = build_recommend_model(Csr::empty(1, items), {-1}, 0);
  model.item_factors = Matrix(items, f);
  for (auto& v : model.item_factors.data) v = normal(gen);
  Queries q;
  q.factors = Matrix(users, f);
  for (auto& v : q.factors.data) v = normal(gen);
  std::vector<std::vector<int32_t>> seen(users);
  for (int u = 0; u < users; ++u) seen[u] = {u % items, (u * 7 + 3) % items};
  q.seen = make_csr(items, seen);
  const TopK t = recommend(ctx_, RecommenderKind::embedding, model, q, k);
  for (int u = 0; u < users; ++u) {
    std::vector<std::pair<float, int32_t>> all;
    for (int i = 0; i < items; ++i) {
      if (i == seen[u][0] || i == seen[u][1]) continue;
      float s = 0;
      for (int c = 0; c < f; ++c) s += q.factors.row(u)[c] * model.item_factors.row(i)[c];
      all.emplace_back(-s, i);
    }
    std::sort(all.begin(), all.end());
    for (int j = 0; j < k; ++j) {
      ASSERT_NEAR(t.scores[static_cast<size_t>(u) * k + j], -all[j].first, 1e-4) << "user " << u << " rank " << j;
      // The index is checked only where no near-tie makes the order a matter of rounding.
      const bool clear_before = j == 0 || all[j].first - all[j - 1].first > 1e-4f;
      const bool clear_after = all[j + 1].first - all[j].first > 1e-4f;
      if (clear_before && clear_after) {
        EXPECT_EQ(t.row(u)[j], all[j].second) << "user " << u << " rank " << j;
      }
    }
  }
}

TEST_F(RecommendTest, BlendWeightMovesWithTheSeenCount) {
  // 30 items. The dot term prefers item 0 (x_u . y_0 = 50 * 100, scaled to 1); the group
  // term prefers item 1 (score 1). w_u = 10 / (10 + n_u): with n_u = 0 the group wins, with
  // n_u = 20 (w = 1/3) the dot term wins with score 2/3.
  const int items = 30;
  RecommendModel model = build_recommend_model(make_csr(items, {{1}}), {0}, 1);
  model.item_factors = Matrix(items, 1);
  model.item_factors.data[0] = 100.0f;
  std::vector<int32_t> many;
  for (int i = 2; i < 22; ++i) many.push_back(i);
  Queries q;
  q.seen = make_csr(items, {{}, {2, 3, 4, 5, 6}, many});
  q.factors = Matrix(3, 1);
  q.factors.data = {50.0f, 50.0f, 50.0f};
  q.group = {0, 0, 0};
  const TopK t = recommend(ctx_, RecommenderKind::blend, model, q, 2);
  EXPECT_EQ(t.row(0)[0], 1);
  EXPECT_NEAR(t.scores[0], 1.0f, 1e-5);
  EXPECT_EQ(t.row(1)[0], 1);  // w = 2/3
  EXPECT_NEAR(t.scores[2], 2.0f / 3, 1e-5);
  EXPECT_EQ(t.row(2)[0], 0);  // w = 1/3
  EXPECT_NEAR(t.scores[4], 2.0f / 3, 1e-5);
  EXPECT_EQ(t.row(2)[1], 1);
  EXPECT_NEAR(t.scores[5], 1.0f / 3, 1e-5);

  // A lower pivot hands the dot term the lead sooner.
  model.blend_pivot = 1.0;
  const TopK low = recommend(ctx_, RecommenderKind::blend, model, q, 1);
  EXPECT_EQ(low.row(0)[0], 1);
  EXPECT_EQ(low.row(1)[0], 0);
}

// Items over users: 0 = 1 1 1 0, 1 = 1 1 1 0, 2 = 0 0 1 1, 3 = 0 0 0 1.
//   cos(0,1) = 1, cos(0,2) = cos(1,2) = 1/sqrt(6), cos(2,3) = 1/sqrt(2), cos(0,3) = 0.
Csr knn_train() { return make_csr(4, {{0, 1}, {0, 1}, {0, 1, 2}, {2, 3}}); }

TEST_F(RecommendTest, ItemKnnKnownNeighboursAndTopItem) {
  RecommendModel model = build_recommend_model(knn_train(), std::vector<int32_t>(4, -1), 0);
  fit_item_knn(ctx_, knn_train(), 3, model);
  ASSERT_EQ(model.knn_neighbours, 3);
  ASSERT_EQ(model.knn_index.size(), 12u);
  EXPECT_EQ(std::vector<int32_t>(model.knn_index.begin(), model.knn_index.begin() + 3),
            (std::vector<int32_t>{1, 2, -1}));
  EXPECT_NEAR(model.knn_score[0], 1.0f, 1e-5);
  EXPECT_NEAR(model.knn_score[1], 1.0f / std::sqrt(6.0f), 1e-5);
  EXPECT_EQ(std::vector<int32_t>(model.knn_index.begin() + 9, model.knn_index.end()), (std::vector<int32_t>{2, -1, -1}));

  Queries q;
  q.seen = make_csr(4, {{0}, {3}, {0, 3}});
  const TopK t = recommend(ctx_, RecommenderKind::item_knn, model, q, 1);
  EXPECT_EQ(t.row(0)[0], 1);
  EXPECT_NEAR(t.scores[0], 1.0f, 1e-5);
  EXPECT_EQ(t.row(1)[0], 2);
  EXPECT_NEAR(t.scores[1], 1.0f / std::sqrt(2.0f), 1e-5);
  // 1: 1; 2: 1/sqrt(6) + 1/sqrt(2) = 1.116.
  EXPECT_EQ(t.row(2)[0], 2);
  EXPECT_NEAR(t.scores[2], 1.0f / std::sqrt(6.0f) + 1.0f / std::sqrt(2.0f), 1e-5);
}

// recommend_many gives each recommender what recommend gives it alone, over several blocks,
// with the embedding and blend recommenders sharing their products. Factors are small
// multiples of 1/4, so every product is exact whichever way it is summed.
TEST_F(RecommendTest, ManyAtOnceMatchesEachAlone) {
  std::mt19937 gen(17);
  const int items = 50, f = 3, users = 4500, groups = 3, k = 7;
  std::vector<std::vector<int32_t>> train_rows(300), seen(users);
  std::vector<int32_t> train_group(300);
  for (size_t u = 0; u < train_rows.size(); ++u) {
    train_group[u] = static_cast<int32_t>(u % groups);
    for (int i = 0; i < items; ++i)
      if (gen() % 5 == 0) train_rows[u].push_back(i);
  }
  const Csr train = make_csr(items, train_rows);
  RecommendModel model = build_recommend_model(train, train_group, groups);
  model.item_factors = Matrix(items, f);
  for (auto& v : model.item_factors.data) v = 0.25f * static_cast<float>(static_cast<int>(gen() % 9) - 4);
  fit_item_knn(ctx_, train, 5, model);
  model.item_text = Matrix(items, 2);
  for (auto& v : model.item_text.data) v = 0.25f * static_cast<float>(static_cast<int>(gen() % 9) - 4);
  Queries q;
  q.factors = Matrix(users, f);
  for (auto& v : q.factors.data) v = 0.25f * static_cast<float>(static_cast<int>(gen() % 9) - 4);
  q.text_profiles = Matrix(users, 2);
  for (auto& v : q.text_profiles.data) v = 0.25f * static_cast<float>(static_cast<int>(gen() % 9) - 4);
  for (int u = 0; u < users; ++u) {
    for (int i = 0; i < items; ++i)
      if (gen() % 7 == 0) seen[u].push_back(i);
    q.group.push_back(u % 11 == 0 ? -1 : static_cast<int32_t>(u % groups));
  }
  q.seen = make_csr(items, seen);
  const std::vector<RecommenderKind> kinds = {RecommenderKind::popularity, RecommenderKind::embedding,
                                              RecommenderKind::group, RecommenderKind::blend,
                                              RecommenderKind::item_knn, RecommenderKind::text};
  const std::vector<TopK> many = recommend_many(ctx_, kinds, model, q, k);
  ASSERT_EQ(many.size(), kinds.size());
  for (size_t r = 0; r < kinds.size(); ++r) {
    SCOPED_TRACE(recommender_kind_name(kinds[r]));
    const TopK alone = recommend(ctx_, kinds[r], model, q, k);
    EXPECT_EQ(many[r].rows, alone.rows);
    EXPECT_EQ(many[r].items, alone.items);
    EXPECT_EQ(many[r].scores, alone.scores);
  }
}

TEST_F(RecommendTest, KindNames) {
  for (RecommenderKind k : {RecommenderKind::popularity, RecommenderKind::embedding, RecommenderKind::group,
                            RecommenderKind::blend, RecommenderKind::item_knn, RecommenderKind::text})
    EXPECT_EQ(parse_recommender_kind(recommender_kind_name(k)), k);
  for (const char* name : {"als", "bpr", "mf"}) EXPECT_EQ(parse_recommender_kind(name), RecommenderKind::embedding);
  EXPECT_THROW(parse_recommender_kind("knn"), Error);
}

TEST_F(RecommendTest, BadInputsAreRejected) {
  RecommendModel model = build_recommend_model(two_groups(), {0, 0, 0, 1, 1, 1}, 2);
  Queries q;
  q.seen = make_csr(6, {{0}});
  q.group = {0};
  EXPECT_THROW(recommend(ctx_, RecommenderKind::popularity, model, q, 0), Error);
  EXPECT_THROW(recommend(ctx_, RecommenderKind::item_knn, model, q, 3), Error);   // not fitted
  EXPECT_THROW(recommend(ctx_, RecommenderKind::embedding, model, q, 3), Error);  // no factors
  q.group = {2};
  EXPECT_THROW(recommend(ctx_, RecommenderKind::group, model, q, 3), Error);
  q.group = {};
  EXPECT_THROW(recommend(ctx_, RecommenderKind::group, model, q, 3), Error);
  q.group = {0};
  q.seen = make_csr(5, {{0}});
  EXPECT_THROW(recommend(ctx_, RecommenderKind::popularity, model, q, 3), Error);

  EXPECT_THROW(build_recommend_model(two_groups(), {0, 0, 0}, 2), Error);
  EXPECT_THROW(build_recommend_model(two_groups(), {0, 0, 0, 1, 1, 5}, 2), Error);
  EXPECT_THROW(fit_item_knn(ctx_, two_groups(), 0, model), Error);
  EXPECT_THROW(fit_item_knn(ctx_, knn_train(), 2, model), Error);  // 4 items, the model 6
}

}  // namespace
}  // namespace cohort
