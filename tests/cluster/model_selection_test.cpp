#include "engine/cluster/model_selection.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <random>

#include "engine/comm/communicator.hpp"
#include "kernels/error.hpp"
#include "kernels/registry.hpp"

namespace cohort {
namespace {

Matrix column(const std::vector<float>& values) {
  Matrix x(static_cast<int64_t>(values.size()), 1);
  x.data = values;
  return x;
}

// `per_blob` rows around each of k centres spaced 12 apart on distinct axes of 5-D space.
Matrix blobs(int k, int per_blob, uint64_t seed) {
  Matrix x(static_cast<int64_t>(k) * per_blob, 5);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  for (int64_t i = 0; i < x.rows; ++i) {
    const int c = static_cast<int>(i % k);
    for (int j = 0; j < 5; ++j) x.row(i)[j] = noise(rng) + (j == c % 5 ? 12.0f * (1 + c / 5) : 0.0f);
  }
  return x;
}

class SweepTest : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> backend_ = make_backend("cpu");
  std::unique_ptr<Communicator> comm_ = make_self_communicator();
  Context ctx_{*backend_, *comm_, 21, 0, {}};
};

// x = 0, 1, 3 | 7, 8. Mean distance to the own cluster (a) and to the other (b):
//   0: a = (1 + 3) / 2 = 2,    b = (7 + 8) / 2 = 7.5,      s = 5.5 / 7.5 = 0.733333
//   1: a = (1 + 2) / 2 = 1.5,  b = (6 + 7) / 2 = 6.5,      s = 5 / 6.5   = 0.769231
//   3: a = (3 + 2) / 2 = 2.5,  b = (4 + 5) / 2 = 4.5,      s = 2 / 4.5   = 0.444444
//   7: a = 1,                  b = (7 + 6 + 4) / 3 = 17/3, s = (14/3) / (17/3) = 0.823529
//   8: a = 1,                  b = (8 + 7 + 5) / 3 = 20/3, s = (17/3) / (20/3) = 0.85
// mean = 3.620538 / 5 = 0.724108
TEST(Silhouette, HandComputedOneDimensional) {
  EXPECT_NEAR(silhouette_score(column({0, 1, 3, 7, 8}), {0, 0, 0, 1, 1}, 2, 100, 1), 0.7241076, 1e-5);
  // Label names and row order do not matter.
  EXPECT_NEAR(silhouette_score(column({8, 3, 0, 7, 1}), {0, 1, 1, 0, 1}, 2, 100, 1), 0.7241076, 1e-5);
}

// x = 0, 1 | 10: the singleton's s is 0 (scikit-learn's convention);
//   0: a = 1, b = 10, s = 0.9;  1: a = 1, b = 9, s = 8/9.  mean = (0.9 + 0.888889 + 0) / 3.
TEST(Silhouette, SingletonClusterScoresZero) {
  EXPECT_NEAR(silhouette_score(column({0, 1, 10}), {0, 0, 1}, 2, 100, 1), 0.5962963, 1e-5);
}

TEST(Silhouette, DegenerateLabelingsScoreZero) {
  EXPECT_EQ(silhouette_score(column({0, 1, 3}), {0, 0, 0}, 1, 100, 1), 0.0);
  EXPECT_EQ(silhouette_score(column({0, 1, 3}), {1, 1, 1}, 3, 100, 1), 0.0);
}

// x = 0, 10 | 1, 11: each point sits with the far one, a = 10 everywhere;
//   b(0) = (1 + 11) / 2 = 6, b(1) = (1 + 9) / 2 = 5, b(10) = 5, b(11) = 6
//   s = -0.4, -0.5, -0.5, -0.4; mean -0.45.
TEST(Silhouette, WrongLabelingIsNegative) {
  EXPECT_NEAR(silhouette_score(column({0, 1, 10, 11}), {0, 1, 0, 1}, 2, 100, 1), -0.45, 1e-6);
}

TEST(Silhouette, SampleIsSeededAndBounded) {
  const Matrix x = blobs(3, 200, 4);
  std::vector<int32_t> labels(static_cast<size_t>(x.rows));
  for (int64_t i = 0; i < x.rows; ++i) labels[i] = static_cast<int32_t>(i % 3);
  const double full = silhouette_score(x, labels, 3, 100000, 1);
  const double a = silhouette_score(x, labels, 3, 150, 8);
  EXPECT_EQ(a, silhouette_score(x, labels, 3, 150, 8));
  EXPECT_NE(a, silhouette_score(x, labels, 3, 150, 9));
  EXPECT_NEAR(a, full, 0.05);
  EXPECT_GT(full, 0.8);
  EXPECT_LE(full, 1.0);
}

TEST(Silhouette, RejectsBadLabels) {
  EXPECT_THROW(silhouette_score(column({0, 1, 3}), {0, 2, 1}, 2, 10, 1), Error);
  EXPECT_THROW(silhouette_score(column({0, 1, 3}), {0, -1, 1}, 2, 10, 1), Error);
  EXPECT_THROW(silhouette_score(column({0, 1, 3}), {0, 1}, 2, 10, 1), Error);
  EXPECT_THROW(silhouette_score(column({0, 1, 3}), {0, 1, 1}, 2, 0, 1), Error);
}

// x = 0, 2 | 10, 12 | 30 with centroids 1, 11, 30: spreads s = 1, 1, 0; centroid distances
// d01 = 10, d02 = 29, d12 = 19.
//   cluster 0: max((1 + 1) / 10, (1 + 0) / 29) = 0.2
//   cluster 1: max((1 + 1) / 10, (1 + 0) / 19) = 0.2
//   cluster 2: max((0 + 1) / 29, (0 + 1) / 19) = 1/19 = 0.0526316
// DB = (0.2 + 0.2 + 0.0526316) / 3 = 0.1508772
TEST(DaviesBouldin, HandComputed) {
  EXPECT_NEAR(davies_bouldin_score(column({0, 2, 10, 12, 30}), {0, 0, 1, 1, 2}, column({1, 11, 30})), 0.1508772,
              1e-6);
}

TEST(DaviesBouldin, DegenerateCasesAndErrors) {
  // One used cluster; a centroid without rows is left out.
  EXPECT_EQ(davies_bouldin_score(column({0, 2}), {0, 0}, column({1, 5})), 0.0);
  // Every row on its centroid.
  EXPECT_EQ(davies_bouldin_score(column({0, 0, 5}), {0, 0, 1}, column({0, 5})), 0.0);
  EXPECT_THROW(davies_bouldin_score(column({0, 2}), {0, 2}, column({1, 5})), Error);
  EXPECT_THROW(davies_bouldin_score(column({0, 2}), {0, 1}, Matrix(2, 2)), Error);
}

TEST_F(SweepTest, PicksTheTrueK) {
  const Matrix x = blobs(4, 100, 6);
  SweepConfig config;
  config.k_min = 2;
  config.k_max = 8;
  config.restarts = 2;
  config.metric = KMeansMetric::euclidean;
  config.silhouette_sample = 300;
  const SweepResult r = sweep_k(ctx_, x, config);
  ASSERT_EQ(r.k_scores.size(), 7u);
  for (size_t i = 0; i < r.k_scores.size(); ++i) EXPECT_EQ(r.k_scores[i].k, static_cast<int>(i) + 2);
  EXPECT_EQ(r.best.k, 4);
  EXPECT_EQ(r.best.labels.size(), 400u);
  EXPECT_EQ(r.silhouette, r.k_scores[2].silhouette);
  EXPECT_EQ(r.davies_bouldin, r.k_scores[2].davies_bouldin);
  EXPECT_EQ(r.best.inertia, r.k_scores[2].inertia);
  EXPECT_GT(r.silhouette, 0.7);
  EXPECT_LT(r.davies_bouldin, 0.5);
  for (const KScore& s : r.k_scores) {
    if (s.k != 4) {
      EXPECT_LT(s.silhouette, r.silhouette);
    }
    EXPECT_GE(s.davies_bouldin, 0.0);
  }
  // Inertia falls steeply up to the true k.
  EXPECT_GT(r.k_scores[1].inertia, 5 * r.k_scores[2].inertia);
}

TEST_F(SweepTest, BatchedScoresEqualSilhouetteScoreOnTheFullSample) {
  const Matrix x = blobs(3, 60, 2);
  SweepConfig config;
  config.k_min = 2;
  config.k_max = 5;
  config.restarts = 1;
  config.metric = KMeansMetric::euclidean;
  config.silhouette_sample = 1000;  // every row
  const SweepResult r = sweep_k(ctx_, x, config);
  EXPECT_EQ(r.best.k, 3);
  EXPECT_NEAR(r.silhouette, silhouette_score(x, r.best.labels, 3, 1000, 0), 1e-5);
}

TEST_F(SweepTest, CosineScoresTheNormalisedRows) {
  // Two directions, lengths 1 to 50: on the unit sphere the two groups are tight.
  Matrix x(60, 2);
  for (int i = 0; i < 60; ++i) {
    const float length = 1.0f + static_cast<float>(i);
    x.row(i)[0] = i % 2 == 0 ? length : 0.1f * length;
    x.row(i)[1] = i % 2 == 0 ? 0.1f * length : length;
  }
  SweepConfig config;
  config.k_min = 2;
  config.k_max = 4;
  config.restarts = 1;
  config.metric = KMeansMetric::cosine;
  const SweepResult r = sweep_k(ctx_, x, config);
  EXPECT_EQ(r.best.k, 2);
  EXPECT_GT(r.silhouette, 0.95);
}

TEST_F(SweepTest, FixedKAndDeterminism) {
  const Matrix x = blobs(4, 30, 3);
  SweepConfig config;
  config.fixed_k = 3;
  config.k_min = 0;
  config.metric = KMeansMetric::euclidean;
  const SweepResult a = sweep_k(ctx_, x, config);
  ASSERT_EQ(a.k_scores.size(), 1u);
  EXPECT_EQ(a.best.k, 3);
  const SweepResult b = sweep_k(ctx_, x, config);
  EXPECT_EQ(a.best.labels, b.best.labels);
  EXPECT_EQ(a.silhouette, b.silhouette);
}

TEST_F(SweepTest, RejectsBadConfig) {
  const Matrix x = blobs(2, 5, 3);  // 10 rows
  auto sweep = [&](auto edit) {
    SweepConfig config;
    config.k_min = 2;
    config.k_max = 4;
    edit(config);
    return sweep_k(ctx_, x, config);
  };
  EXPECT_THROW(sweep([](SweepConfig& c) { c.k_min = 1; }), Error);
  EXPECT_THROW(sweep([](SweepConfig& c) { c.k_max = 1; }), Error);
  EXPECT_THROW(sweep([](SweepConfig& c) { c.k_max = 11; }), Error);
  EXPECT_THROW(sweep([](SweepConfig& c) { c.restarts = 0; }), Error);
  EXPECT_THROW(sweep([](SweepConfig& c) { c.fixed_k = 11; }), Error);
  EXPECT_THROW(sweep([](SweepConfig& c) { c.fixed_k = -1; }), Error);
  EXPECT_THROW(sweep([](SweepConfig& c) { c.silhouette_sample = 1; }), Error);
  EXPECT_NO_THROW(sweep([](SweepConfig& c) { c.fixed_k = 1; }));
}

}  // namespace
}  // namespace cohort
