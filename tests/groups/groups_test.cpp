#include "engine/groups/groups.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "kernels/error.hpp"

namespace cohort {
namespace {

// Seven users, four items. Users 0-2 form group 0, users 3-5 group 1; user 6 is not clustered.
//   u0: 0 1      u3: 2 3
//   u1: 0 2      u4: 1 3
//   u2: 0 1 3    u5: 3        u6: 0 1 2 3
// Over the six clustered users, users per item: i0 3, i1 3, i2 2, i3 4.
Csr tiny_train() {
  const std::vector<std::vector<int32_t>> rows = {{0, 1}, {0, 2}, {0, 1, 3}, {2, 3}, {1, 3}, {3}, {0, 1, 2, 3}};
  std::vector<int32_t> r, c;
  for (size_t u = 0; u < rows.size(); ++u)
    for (int32_t i : rows[u]) {
      r.push_back(static_cast<int32_t>(u));
      c.push_back(i);
    }
  return Csr::from_triplets(7, 4, r, c, std::vector<float>(r.size(), 1.0f));
}

KMeansSolution tiny_solution() {
  KMeansSolution s;
  s.k = 2;
  s.centroids = Matrix(2, 2);
  s.centroids.data = {1, 0, 0, 1};
  s.labels = {0, 0, 0, 1, 1, 1};
  // Squared distances: nearest 1 and second 4 -> 1 - 1/2 = 0.5; on the centroid -> 1;
  // on the boundary -> 0.
  s.distance = {1, 0, 2, 1, 1, 1};
  s.margin = {3, 5, 0, 3, 3, 3};
  return s;
}

const std::vector<int32_t> kUsers = {0, 1, 2, 3, 4, 5};

ItemCatalog tiny_catalog(bool with_tags) {
  ItemCatalog c;
  c.titles = {"Alien", "Blade Runner", "Amelie", "Notting Hill"};
  if (with_tags) c.tags = {{"scifi"}, {"scifi", "thriller"}, {"romance", "comedy"}, {"romance"}};
  return c;
}

Groups build(const ItemCatalog& catalog, int min_support, int top_items = 10, const Matrix& factors = Matrix()) {
  ProfileOptions options;
  options.min_support = min_support;
  options.top_items = top_items;
  return build_groups(tiny_solution(), kUsers, 7, tiny_train(), factors, catalog, options);
}

// lift = P(item | group) / P(item), P over the six clustered users:
//   group 0 (supports 3, 2, 1, 1): i0 (3/3)/(3/6) = 2, i1 (2/3)/(3/6) = 4/3, i2 (1/3)/(2/6) = 1,
//                                  i3 (1/3)/(4/6) = 1/2
//   group 1 (supports 0, 1, 1, 3): i3 (3/3)/(4/6) = 3/2, i2 (1/3)/(2/6) = 1, i1 (1/3)/(3/6) = 2/3
TEST(Groups, LiftHandComputed) {
  const Groups g = build(ItemCatalog(), 1);
  ASSERT_EQ(g.profiles.size(), 2u);
  const auto& p0 = g.profiles[0].top_items_by_lift;
  ASSERT_EQ(p0.size(), 4u);
  const std::vector<std::pair<int32_t, double>> want0 = {{0, 2.0}, {1, 4.0 / 3}, {2, 1.0}, {3, 0.5}};
  const std::vector<int64_t> support0 = {3, 2, 1, 1};
  for (size_t r = 0; r < 4; ++r) {
    EXPECT_EQ(p0[r].item, want0[r].first);
    EXPECT_NEAR(p0[r].score, want0[r].second, 1e-12);
    EXPECT_EQ(p0[r].support, support0[r]);
  }
  const auto& p1 = g.profiles[1].top_items_by_lift;
  ASSERT_EQ(p1.size(), 3u);  // i0 has no support in group 1
  EXPECT_EQ(p1[0].item, 3);
  EXPECT_NEAR(p1[0].score, 1.5, 1e-12);
  EXPECT_EQ(p1[1].item, 2);
  EXPECT_EQ(p1[2].item, 1);
  EXPECT_NEAR(p1[2].score, 2.0 / 3, 1e-12);
}

TEST(Groups, MinSupportAndTopItemsRespected) {
  const Groups g = build(ItemCatalog(), 2);
  ASSERT_EQ(g.profiles[0].top_items_by_lift.size(), 2u);
  EXPECT_EQ(g.profiles[0].top_items_by_lift[0].item, 0);
  EXPECT_EQ(g.profiles[0].top_items_by_lift[1].item, 1);
  ASSERT_EQ(g.profiles[1].top_items_by_lift.size(), 1u);
  EXPECT_EQ(g.profiles[1].top_items_by_lift[0].item, 3);
  for (const auto& p : g.profiles)
    for (const ItemScore& s : p.top_items_by_lift) EXPECT_GE(s.support, 2);
  EXPECT_EQ(build(ItemCatalog(), 1, 1).profiles[0].top_items_by_lift.size(), 1u);
}

TEST(Groups, SizesActivityAndAssignment) {
  const Groups g = build(ItemCatalog(), 1);
  EXPECT_EQ(g.k, 2);
  EXPECT_EQ(g.assignment, (std::vector<int32_t>{0, 0, 0, 1, 1, 1, -1}));
  EXPECT_EQ(g.profiles[0].size, 3);
  EXPECT_EQ(g.profiles[1].size, 3);
  // Interactions per user: group 0 has 2, 2, 3; group 1 has 2, 2, 1.
  EXPECT_NEAR(g.profiles[0].mean_activity, 7.0 / 3, 1e-12);
  EXPECT_EQ(g.profiles[0].median_activity, 2.0);
  EXPECT_NEAR(g.profiles[1].mean_activity, 5.0 / 3, 1e-12);
  EXPECT_EQ(g.profiles[1].median_activity, 2.0);
  EXPECT_EQ(g.profiles[0].label, "group 0");
  EXPECT_TRUE(g.profiles[0].top_tags.empty());
}

TEST(Groups, ConfidenceFromNearestAndSecondDistance) {
  const Groups g = build(ItemCatalog(), 1);
  ASSERT_EQ(g.confidence.size(), 7u);
  EXPECT_NEAR(g.confidence[0], 0.5f, 1e-6);  // distances 1 and 2
  EXPECT_NEAR(g.confidence[1], 1.0f, 1e-6);  // on its centroid
  EXPECT_NEAR(g.confidence[2], 0.0f, 1e-6);  // equidistant
  EXPECT_EQ(g.confidence[6], 0.0f);          // not clustered
  for (float c : g.confidence) {
    EXPECT_GE(c, 0.0f);
    EXPECT_LE(c, 1.0f);
  }
}

// Interactions per tag (an item counts once per tag), clustered users only:
//   group 0 (7 interactions): scifi 5, thriller 2, romance 2, comedy 1
//   group 1 (5 interactions): scifi 1, thriller 1, romance 4, comedy 1
//   all (12):                 scifi 6, thriller 3, romance 6, comedy 2
// lift = (count / group interactions) / (total / 12):
//   group 0: scifi (5/7)/(6/12) = 10/7, thriller (2/7)/(3/12) = 8/7, comedy (1/7)/(2/12) = 6/7,
//            romance (2/7)/(6/12) = 4/7
//   group 1: romance (4/5)/(6/12) = 8/5, comedy (1/5)/(2/12) = 6/5, thriller (1/5)/(3/12) = 4/5,
//            scifi (1/5)/(6/12) = 2/5
TEST(Groups, TagsAndLabelFromCatalog) {
  const Groups g = build(tiny_catalog(true), 1);
  const auto& t0 = g.profiles[0].top_tags;
  ASSERT_EQ(t0.size(), 4u);
  EXPECT_EQ(t0[0].first, "scifi");
  EXPECT_NEAR(t0[0].second, 10.0 / 7, 1e-12);
  EXPECT_EQ(t0[1].first, "thriller");
  EXPECT_NEAR(t0[1].second, 8.0 / 7, 1e-12);
  EXPECT_EQ(t0[2].first, "comedy");
  EXPECT_EQ(t0[3].first, "romance");
  EXPECT_NEAR(t0[3].second, 4.0 / 7, 1e-12);
  EXPECT_EQ(g.profiles[0].label, "scifi, thriller, comedy");
  EXPECT_NEAR(g.profiles[1].top_tags[0].second, 8.0 / 5, 1e-12);
  EXPECT_EQ(g.profiles[1].label, "romance, comedy, thriller");

  // min_support 2 drops the tags seen fewer than twice in the group.
  const Groups strict = build(tiny_catalog(true), 2);
  EXPECT_EQ(strict.profiles[0].label, "scifi, thriller, romance");
  EXPECT_EQ(strict.profiles[1].label, "romance");
}

TEST(Groups, LabelFallsBackToTitles) {
  const Groups g = build(tiny_catalog(false), 1);
  EXPECT_EQ(g.profiles[0].label, "Alien, Blade Runner, Amelie");
  EXPECT_EQ(g.profiles[1].label, "Notting Hill, Amelie, Blade Runner");
  EXPECT_TRUE(g.profiles[0].top_tags.empty());
}

// Centroids (1, 0) and (0, 1); items (2, 0), (1, 1), (0, 3), (-1, 0.5).
//   group 0 cosines: 1, 0.7071, 0, -0.8944;  group 1: 0, 0.7071, 1, 0.4472
TEST(Groups, ItemsNearCentroid) {
  Matrix factors(4, 2);
  factors.data = {2, 0, 1, 1, 0, 3, -1, 0.5f};
  const Groups g = build(ItemCatalog(), 1, 2, factors);
  const auto& n0 = g.profiles[0].items_near_centroid;
  ASSERT_EQ(n0.size(), 2u);
  EXPECT_EQ(n0[0].item, 0);
  EXPECT_NEAR(n0[0].score, 1.0, 1e-6);
  EXPECT_EQ(n0[0].support, 3);
  EXPECT_EQ(n0[1].item, 1);
  EXPECT_NEAR(n0[1].score, std::sqrt(0.5), 1e-6);
  const auto& n1 = g.profiles[1].items_near_centroid;
  ASSERT_EQ(n1.size(), 2u);
  EXPECT_EQ(n1[0].item, 2);
  EXPECT_EQ(n1[1].item, 1);
  EXPECT_TRUE(build(ItemCatalog(), 1).profiles[0].items_near_centroid.empty());
}

TEST(Groups, RejectsInconsistentInput) {
  ProfileOptions options;
  const Csr train = tiny_train();
  EXPECT_THROW(build_groups(tiny_solution(), {0, 1, 2, 3, 4, 4}, 7, train, Matrix(), ItemCatalog(), options), Error);
  EXPECT_THROW(build_groups(tiny_solution(), {0, 1, 2, 3, 4}, 7, train, Matrix(), ItemCatalog(), options), Error);
  EXPECT_THROW(build_groups(tiny_solution(), {0, 1, 2, 3, 4, 7}, 7, train, Matrix(), ItemCatalog(), options), Error);
  EXPECT_THROW(build_groups(tiny_solution(), kUsers, 8, train, Matrix(), ItemCatalog(), options), Error);
  KMeansSolution bad_label = tiny_solution();
  bad_label.labels[2] = 2;
  EXPECT_THROW(build_groups(bad_label, kUsers, 7, train, Matrix(), ItemCatalog(), options), Error);
  EXPECT_THROW(build_groups(tiny_solution(), kUsers, 7, train, Matrix(3, 2), ItemCatalog(), options), Error);
  ItemCatalog short_catalog = tiny_catalog(true);
  short_catalog.titles.pop_back();
  EXPECT_THROW(build_groups(tiny_solution(), kUsers, 7, train, Matrix(), short_catalog, options), Error);
}

// Centroids (0, 0), (10, 0), (0, 10).
TEST(AssignToGroups, NearestCentroidWithConfidence) {
  Matrix centroids(3, 2);
  centroids.data = {0, 0, 10, 0, 0, 10};
  Matrix x(4, 2);
  x.data = {1, 0,     // nearest 1, second 9: 1 - 1/9
            5, 0,     // tie between groups 0 and 1 -> the lower index, confidence 0
            10, 10,   // tie between groups 1 and 2
            0, 9};    // nearest 1 (group 2), second 9
  std::vector<int32_t> group;
  std::vector<float> confidence;
  assign_to_groups(centroids, x, group, confidence);
  EXPECT_EQ(group, (std::vector<int32_t>{0, 0, 1, 2}));
  EXPECT_NEAR(confidence[0], 8.0f / 9, 1e-6);
  EXPECT_NEAR(confidence[1], 0.0f, 1e-6);
  EXPECT_NEAR(confidence[2], 0.0f, 1e-6);
  EXPECT_NEAR(confidence[3], 8.0f / 9, 1e-6);

  Matrix one(1, 2);
  assign_to_groups(one, x, group, confidence);
  EXPECT_EQ(group, std::vector<int32_t>(4, 0));
  EXPECT_EQ(confidence, std::vector<float>(4, 1.0f));

  assign_to_groups(centroids, Matrix(0, 2), group, confidence);
  EXPECT_TRUE(group.empty());
  EXPECT_THROW(assign_to_groups(centroids, Matrix(2, 3), group, confidence), Error);
  EXPECT_THROW(assign_to_groups(Matrix(), x, group, confidence), Error);
}

}  // namespace
}  // namespace cohort
