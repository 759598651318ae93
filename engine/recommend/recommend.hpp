// Recommenders: popularity, embedding (U.Vt), group, blend, item-kNN, text; cold-start routing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/context.hpp"
#include "engine/data/csr.hpp"

namespace cohort {

enum class RecommenderKind { popularity, embedding, group, blend, item_knn, text };
// popularity|als|bpr|mf|embedding|group|blend|item_knn|text
RecommenderKind parse_recommender_kind(const std::string& name);
const char* recommender_kind_name(RecommenderKind kind);

// Top-k lists, rows x k row-major, sorted by descending score; -1 pads short lists.
struct TopK {
  int64_t rows = 0;
  int k = 0;
  std::vector<int32_t> items;
  std::vector<float> scores;
  const int32_t* row(int64_t r) const { return items.data() + r * k; }
};

// What a recommender knows about the catalogue, built once from the training data.
struct RecommendModel {
  int64_t items = 0;
  std::vector<float> popularity;      // items: training users per item, scaled to max 1
  Matrix item_factors;                // items x f (embedding and blend)
  Matrix group_scores;                // groups x items: share of the group's users who have
                                      // the item, scaled to max 1 per group
  std::vector<int32_t> knn_index;     // items x knn_neighbours, -1 padded (item_knn)
  std::vector<float> knn_score;
  int knn_neighbours = 0;
  double blend_pivot = 10.0;          // blend weight of the group term: pivot / (pivot + n_u)
  // text: items x d unit text vectors (ItemCatalog::text_vectors; zero rows: no text). A user's
  // score for item i is  text_sharpness * cos(profile_u, v_i) + log(popularity_i + floor):
  // popularity times exp(sharpness * similarity), so the text picks the region of the catalogue
  // and popularity the items within it (with text alone, every item of a region ties).
  Matrix item_text;
  double text_sharpness = 4.0;
};

// The users to recommend for: each row is one user.
struct Queries {
  Csr seen;                      // q x items: never recommended back; drives item-kNN
  Matrix factors;                // q x f: the users' (or folded-in) factors; embedding, blend
  std::vector<int32_t> group;    // q: the users' groups (-1 = none: falls back to popularity)
  Matrix text_profiles;          // q x d: the users' text profiles (text_profiles.hpp); text
};

// Builds popularity and group scores from train; item factors and kNN are set by the caller
// (or by fit_item_knn).
RecommendModel build_recommend_model(const Csr& train, const std::vector<int32_t>& user_group, int groups);
// Item-item cosine top-`neighbours` of the items (columns of train) on the backend.
void fit_item_knn(const Context& ctx, const Csr& train, int neighbours, RecommendModel& model);

TopK recommend(const Context& ctx, RecommenderKind kind, const RecommendModel& model, const Queries& queries, int k);
// Several recommenders for the same queries, in the order of `kinds`; each result is what
// recommend() gives for it. The blocks of users are read once, and the embedding and blend
// recommenders share their user . item products, computed once a block. SPMD: with several
// ranks each recommends to its block of the queries and every rank returns all the lists.
std::vector<TopK> recommend_many(const Context& ctx, const std::vector<RecommenderKind>& kinds,
                                 const RecommendModel& model, const Queries& queries, int k);

}  // namespace cohort
