// CPU top-k scoring: dense terms (factors, group scores) and item-kNN.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/buffer.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/error.hpp"
#include "kernels/cpu_test_support.hpp"

namespace cohort {
namespace {

struct Ranked {
  std::vector<int32_t> index;
  std::vector<float> score;
};

// Host-side inputs of score_topk; empty vectors mean the term or weight is absent.
struct ScoreInputs {
  int64_t rows = 0;
  int64_t items = 0;
  int64_t f = 0;
  int64_t groups = 0;
  std::vector<float> user_factors, item_factors, dot_weight, group_scores, group_weight;
  std::vector<int32_t> user_group;
};

class CpuScoring : public ::testing::Test {
 protected:
  Ranked score(const ScoreInputs& in, const test::HostCsr& exclude, int k) {
    Buffer<float> uf(*backend_, in.user_factors), vf(*backend_, in.item_factors), dw(*backend_, in.dot_weight);
    Buffer<float> gs(*backend_, in.group_scores), gw(*backend_, in.group_weight);
    Buffer<int32_t> ug(*backend_, in.user_group);
    ScoreTerms t;
    if (!in.user_factors.empty()) {
      t.user_factors = uf.matrix(in.rows, in.f);
      t.item_factors = vf.matrix(in.items, in.f);
    }
    if (!in.dot_weight.empty()) t.dot_weight = dw.data();
    if (!in.group_scores.empty()) {
      t.group_scores = gs.matrix(in.groups, in.items);
      t.user_group = ug.data();
    }
    if (!in.group_weight.empty()) t.group_weight = gw.data();
    test::BackendCsr ex(*backend_, exclude);
    Buffer<int32_t> index(*backend_, in.rows * k);
    Buffer<float> out(*backend_, in.rows * k);
    backend_->score_topk(t, in.rows, in.items, ex.view, k, index.data(), out.data());
    return {index.to_host(), out.to_host()};
  }
  Ranked knn(const test::HostCsr& user_items, const std::vector<int32_t>& nb_index,
             const std::vector<float>& nb_score, int neighbours, const test::HostCsr& exclude, int k) {
    test::BackendCsr ui(*backend_, user_items), ex(*backend_, exclude);
    Buffer<int32_t> ni(*backend_, nb_index);
    Buffer<float> ns(*backend_, nb_score);
    Buffer<int32_t> index(*backend_, user_items.rows * k);
    Buffer<float> out(*backend_, user_items.rows * k);
    backend_->knn_score_topk(ui.view, ni.data(), ns.data(), neighbours, user_items.cols, ex.view, k, index.data(),
                             out.data());
    return {index.to_host(), out.to_host()};
  }
  std::unique_ptr<Backend> backend_ = make_cpu_backend(2);
};

test::HostCsr no_exclusion() { return {}; }

// Row u's candidates for brute force: (score(i), i) for every item not excluded in row u of
// ex and not scored NaN.
template <class Score>
std::vector<std::pair<float, int32_t>> candidates(const test::HostCsr& ex, int64_t u, int64_t items, Score score) {
  std::vector<bool> skip(static_cast<std::size_t>(items), false);
  for (int64_t p = ex.indptr[u]; p < ex.indptr[u + 1]; ++p) skip[static_cast<std::size_t>(ex.indices[p])] = true;
  std::vector<std::pair<float, int32_t>> cand;
  for (int64_t i = 0; i < items; ++i) {
    if (skip[static_cast<std::size_t>(i)]) continue;
    const float s = score(i);
    if (!std::isnan(s)) cand.emplace_back(s, static_cast<int32_t>(i));
  }
  return cand;
}

// Row u of r is the top k of the candidates (score, index), best first, -1 padded.
::testing::AssertionResult row_is_brute_force_topk(const Ranked& r, int64_t u, int k,
                                                   std::vector<std::pair<float, int32_t>> cand) {
  std::vector<int32_t> want_index(static_cast<std::size_t>(k));
  std::vector<float> want_score(static_cast<std::size_t>(k));
  test::brute_topk(std::move(cand), k, want_index.data(), want_score.data());
  const std::vector<int32_t> index(r.index.begin() + u * k, r.index.begin() + (u + 1) * k);
  const std::vector<float> score(r.score.begin() + u * k, r.score.begin() + (u + 1) * k);
  for (int r = 0; r < k; ++r)
    if (index[r] != want_index[r] || score[r] != want_score[r])
      return ::testing::AssertionFailure() << "rank " << r << ": (" << index[r] << ", " << score[r] << "), brute force ("
                                           << want_index[r] << ", " << want_score[r] << ")";
  return ::testing::AssertionSuccess();
}

// Users (1, 0) and (0, 2); items (1, 1), (2, 0), (0, 1), (-1, 0).
//   user 0 scores 1, 2, 0, -1; user 1 scores 2, 0, 2, 0.
ScoreInputs dot_inputs() {
  ScoreInputs in;
  in.rows = 2;
  in.items = 4;
  in.f = 2;
  in.user_factors = {1, 0, 0, 2};
  in.item_factors = {1, 1, 2, 0, 0, 1, -1, 0};
  return in;
}

TEST_F(CpuScoring, DotOnly) {
  auto r = score(dot_inputs(), no_exclusion(), 3);
  EXPECT_EQ(r.index, (std::vector<int32_t>{1, 0, 2, 0, 2, 1}));
  EXPECT_EQ(r.score, (std::vector<float>{2, 1, 0, 2, 2, 0}));
}

TEST_F(CpuScoring, KAboveItemsPadsWithMinusOne) {
  auto r = score(dot_inputs(), no_exclusion(), 6);
  EXPECT_EQ(r.index, (std::vector<int32_t>{1, 0, 2, 3, -1, -1, 0, 2, 1, 3, -1, -1}));
  EXPECT_EQ(r.score, (std::vector<float>{2, 1, 0, -1, 0, 0, 2, 2, 0, 0, 0, 0}));
}

TEST_F(CpuScoring, GroupOnly) {
  ScoreInputs in;
  in.rows = 3;
  in.items = 3;
  in.groups = 2;
  in.group_scores = {0.5f, 1.0f, 0.25f, 0.0f, 0.0f, 0.75f};
  in.user_group = {1, 0, 1};
  auto r = score(in, no_exclusion(), 2);
  EXPECT_EQ(r.index, (std::vector<int32_t>{2, 0, 1, 0, 2, 0}));
  EXPECT_EQ(r.score, (std::vector<float>{0.75f, 0, 1.0f, 0.5f, 0.75f, 0}));
}

// dot_inputs with a group term and weights:
//   score = dw * dot + gw * group; user 0: 0.5 * (1, 2, 0, -1) + 2 * (1, 0, 0, 1) = (2.5, 1, 0, 1.5)
//                                  user 1: 1 * (2, 0, 2, 0) + 0 * anything    = (2, 0, 2, 0)
ScoreInputs weighted_inputs() {
  auto in = dot_inputs();
  in.groups = 1;
  in.group_scores = {1, 0, 0, 1};
  in.user_group = {0, 0};
  in.dot_weight = {0.5f, 1.0f};
  in.group_weight = {2.0f, 0.0f};
  return in;
}

TEST_F(CpuScoring, BothTermsWithWeights) {
  auto r = score(weighted_inputs(), no_exclusion(), 4);
  EXPECT_EQ(r.index, (std::vector<int32_t>{0, 3, 1, 2, 0, 2, 1, 3}));
  EXPECT_EQ(r.score, (std::vector<float>{2.5f, 1.5f, 1, 0, 2, 2, 0, 0}));
}

TEST_F(CpuScoring, ExcludedItemsNeverAppear) {
  test::HostCsr ex;
  ex.cols = 4;
  ex.add_row({1, 3});
  ex.add_row({0, 1, 2, 3});
  auto r = score(dot_inputs(), ex, 3);
  EXPECT_EQ(r.index, (std::vector<int32_t>{0, 2, -1, -1, -1, -1}));
  EXPECT_EQ(r.score, (std::vector<float>{1, 0, 0, 0, 0, 0}));
}

TEST_F(CpuScoring, TiesGoToTheLowerIndex) {
  ScoreInputs in;
  in.rows = 1;
  in.items = 6;
  in.groups = 1;
  in.group_scores = {1, 3, 3, 1, 3, 1};
  in.user_group = {0};
  auto r = score(in, no_exclusion(), 5);
  EXPECT_EQ(r.index, (std::vector<int32_t>{1, 2, 4, 0, 3}));
}

TEST_F(CpuScoring, RejectsBadInputs) {
  ScoreInputs none;
  none.rows = 1;
  none.items = 2;
  EXPECT_THROW(score(none, no_exclusion(), 1), Error);
  ScoreInputs in;
  in.rows = 1;
  in.items = 2;
  in.groups = 1;
  in.group_scores = {1, 2};
  in.user_group = {1};
  EXPECT_THROW(score(in, no_exclusion(), 1), Error);
  test::HostCsr wrong_shape;
  wrong_shape.cols = 3;
  wrong_shape.add_row({0});
  EXPECT_THROW(score(dot_inputs(), wrong_shape, 1), Error);
}

// More users than one scoring block, with exclusion; dyadic factors make the scores exact.
TEST_F(CpuScoring, MatchesBruteForceOnRandomInput) {
  const uint64_t seed = 21;
  SCOPED_TRACE(seed);
  std::mt19937_64 rng(seed);
  ScoreInputs in;
  in.rows = 4200;  // two blocks of the 8M-float scratch at 2,100 items
  in.items = 2100;
  in.f = 3;
  in.groups = 4;
  in.user_factors = test::random_dyadic(rng, in.rows * in.f, 3);
  in.item_factors = test::random_dyadic(rng, in.items * in.f, 3);
  in.group_scores = test::random_dyadic(rng, in.groups * in.items, 4);
  in.dot_weight = test::random_dyadic(rng, in.rows, 4);
  in.group_weight = test::random_dyadic(rng, in.rows, 4);
  for (int64_t u = 0; u < in.rows; ++u) in.user_group.push_back(static_cast<int32_t>(rng() % in.groups));
  auto ex = test::random_csr(rng, in.rows, in.items, 0.3, {});
  const int k = 10;
  auto r = score(in, ex, k);
  for (int64_t u = 0; u < in.rows; ++u) {
    const auto cand = candidates(ex, u, in.items, [&](int64_t i) {
      float dot = 0.0f;
      for (int64_t j = 0; j < in.f; ++j) dot += in.user_factors[u * in.f + j] * in.item_factors[i * in.f + j];
      return in.dot_weight[u] * dot + in.group_weight[u] * in.group_scores[in.user_group[u] * in.items + i];
    });
    ASSERT_TRUE(row_is_brute_force_topk(r, u, k, cand)) << "user " << u;
  }
}

// Precomputed dot products give what the factors give, and are left as they were.
TEST_F(CpuScoring, PrecomputedDotsMatchTheFactors) {
  const auto in = weighted_inputs();
  const auto want = score(in, no_exclusion(), 3);
  // dot_inputs' products: user 0 (1, 2, 0, -1), user 1 (2, 0, 2, 0).
  Buffer<float> dots(*backend_, std::vector<float>{1, 2, 0, -1, 2, 0, 2, 0});
  Buffer<float> gs(*backend_, in.group_scores), dw(*backend_, in.dot_weight), gw(*backend_, in.group_weight);
  Buffer<int32_t> ug(*backend_, in.user_group);
  ScoreTerms t;
  t.dots = dots.matrix(2, 4);
  t.dot_weight = dw.data();
  t.group_scores = gs.matrix(1, 4);
  t.user_group = ug.data();
  t.group_weight = gw.data();
  test::HostCsr ex;
  ex.cols = 4;
  ex.add_row(std::vector<int32_t>{});
  ex.add_row({0});
  const auto exclude = score(in, ex, 3);
  for (const bool with_exclusion : {false, true}) {
    test::BackendCsr e(*backend_, with_exclusion ? ex : no_exclusion());
    Buffer<int32_t> index(*backend_, 6);
    Buffer<float> out(*backend_, 6);
    backend_->score_topk(t, 2, 4, e.view, 3, index.data(), out.data());
    const auto& expected = with_exclusion ? exclude : want;
    EXPECT_EQ(index.to_host(), expected.index);
    EXPECT_EQ(out.to_host(), expected.score);
  }
  EXPECT_EQ(dots.to_host(), (std::vector<float>{1, 2, 0, -1, 2, 0, 2, 0}));
  t.user_factors = dots.matrix(2, 4);  // factors and dots together: refused
  t.item_factors = dots.matrix(2, 4);
  Buffer<int32_t> index(*backend_, 6);
  Buffer<float> out(*backend_, 6);
  EXPECT_THROW(backend_->score_topk(t, 2, 4, CsrView{}, 3, index.data(), out.data()), Error);
}

// Group scores alone (popularity, group) take the ranked-list path: checked against brute
// force with many ties (scores from 4 values), NaN scores, exclusions, and k above what some
// users have left.
TEST_F(CpuScoring, GroupOnlyMatchesBruteForceOnRandomInput) {
  const uint64_t seed = 22;
  SCOPED_TRACE(seed);
  std::mt19937_64 rng(seed);
  ScoreInputs in;
  in.rows = 700;
  in.items = 60;
  in.groups = 5;
  for (int64_t e = 0; e < in.groups * in.items; ++e)
    in.group_scores.push_back(e % 17 == 5 ? std::numeric_limits<float>::quiet_NaN() : 0.25f * static_cast<float>(rng() % 4));
  for (int64_t u = 0; u < in.rows; ++u) in.user_group.push_back(static_cast<int32_t>(rng() % in.groups));
  // Heavy exclusion with k near what is left; light exclusion with a small k, where only a
  // prefix of each group's ranking is needed.
  for (const auto& [density, k] : {std::pair<double, int>{0.8, 20}, std::pair<double, int>{0.1, 5}}) {
    SCOPED_TRACE(density);
    auto ex = test::random_csr(rng, in.rows, in.items, density, {});
    auto r = score(in, ex, k);
    for (int64_t u = 0; u < in.rows; ++u) {
      const auto cand =
          candidates(ex, u, in.items, [&](int64_t i) { return in.group_scores[in.user_group[u] * in.items + i]; });
      ASSERT_TRUE(row_is_brute_force_topk(r, u, k, cand)) << "user " << u;
    }
  }
}

// Items 0..3; neighbour lists (2 per item, -1 padded):
//   0: (1, 0.5), (2, 0.25)   1: (0, 0.5), -1   2: (0, 0.25), (3, 1)   3: (2, 1), -1
// User 0 has item 0 (value 2): scores 1 -> 1.0, 2 -> 0.5.
// User 1 has items 1, 2 (values 1, 1): 0 -> 0.5 + 0.25 = 0.75, 3 -> 1; 1 and 2 are excluded.
// User 2 has nothing: an empty list.
TEST_F(CpuScoring, KnnKnownAnswer) {
  test::HostCsr ui;
  ui.cols = 4;
  ui.add_row({0}, {2});
  ui.add_row({1, 2}, {1, 1});
  ui.add_row({}, {});
  test::HostCsr ex;
  ex.cols = 4;
  ex.add_row({0});
  ex.add_row({1, 2});
  ex.add_row({});
  std::vector<int32_t> nb_index{1, 2, 0, -1, 0, 3, 2, -1};
  std::vector<float> nb_score{0.5f, 0.25f, 0.5f, 0, 0.25f, 1, 1, 0};
  auto r = knn(ui, nb_index, nb_score, 2, ex, 3);
  EXPECT_EQ(r.index, (std::vector<int32_t>{1, 2, -1, 3, 0, -1, -1, -1, -1}));
  EXPECT_EQ(r.score, (std::vector<float>{1.0f, 0.5f, 0, 1.0f, 0.75f, 0, 0, 0, 0}));
}

TEST_F(CpuScoring, KnnWithoutValuesCountsEachItemOnce) {
  // Values null: every stored value is 1. User 0 has items 0 and 1, both listing item 2.
  test::HostCsr ui;
  ui.cols = 3;
  ui.add_row({0, 1});
  std::vector<int32_t> nb_index{2, 1, 2, -1, 0, 1};
  std::vector<float> nb_score{0.5f, 0.25f, 0.5f, 0, 0.25f, 0.5f};
  auto r = knn(ui, nb_index, nb_score, 2, no_exclusion(), 3);
  EXPECT_EQ(r.index, (std::vector<int32_t>{2, 1, -1}));
  EXPECT_EQ(r.score, (std::vector<float>{1.0f, 0.25f, 0}));
}

TEST_F(CpuScoring, KnnRejectsNeighbourOutOfRange) {
  test::HostCsr ui;
  ui.cols = 2;
  ui.add_row({0});
  std::vector<int32_t> nb_index{5, 0};
  std::vector<float> nb_score{1, 1};
  EXPECT_THROW(knn(ui, nb_index, nb_score, 1, no_exclusion(), 1), Error);
}

TEST_F(CpuScoring, KnnMatchesBruteForceOnRandomInput) {
  const uint64_t seed = 8;
  SCOPED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const int64_t users = 300, items = 70;
  const int neighbours = 6, k = 8;
  auto ui = test::random_csr(rng, users, items, 0.05, {0.5f, 1.0f, 2.0f});
  auto ex = test::random_csr(rng, users, items, 0.1, {});
  std::vector<int32_t> nb_index(items * neighbours);
  auto nb_score = test::random_dyadic(rng, items * neighbours, 4);
  for (auto& s : nb_score) s = std::fabs(s);
  for (auto& i : nb_index) i = static_cast<int32_t>(rng() % (items + 10)) - 10;  // some -1 .. -10 -> -1
  for (auto& i : nb_index) i = i < 0 ? -1 : i;
  auto r = knn(ui, nb_index, nb_score, neighbours, ex, k);
  for (int64_t u = 0; u < users; ++u) {
    std::vector<float> acc(items, 0.0f);
    std::vector<bool> scored(items, false), skip(items, false);
    for (int64_t p = ex.indptr[u]; p < ex.indptr[u + 1]; ++p) skip[ex.indices[p]] = true;
    for (int64_t p = ui.indptr[u]; p < ui.indptr[u + 1]; ++p) {
      const int32_t j = ui.indices[p];
      for (int t = 0; t < neighbours; ++t) {
        const int32_t i = nb_index[j * neighbours + t];
        if (i < 0) continue;
        acc[i] += ui.value(p) * nb_score[j * neighbours + t];
        scored[i] = true;
      }
    }
    std::vector<std::pair<float, int32_t>> cand;
    for (int64_t i = 0; i < items; ++i) {
      if (scored[i] && !skip[i]) cand.emplace_back(acc[i], static_cast<int32_t>(i));
    }
    ASSERT_TRUE(row_is_brute_force_topk(r, u, k, cand)) << "user " << u;
  }
}

}  // namespace
}  // namespace cohort
