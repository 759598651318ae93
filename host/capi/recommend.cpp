// cohort_recommend: top-k items for existing users, their seen items excluded.
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "engine/data/rows.hpp"
#include "engine/embed/text_profiles.hpp"
#include "engine/recommend/recommend.hpp"
#include "host/capi/handles.hpp"

using namespace cohort;
using namespace cohort::capi;

extern "C" {

cohort_status cohort_recommend(cohort_context* context, const cohort_dataset* dataset, const cohort_model* model,
                               const cohort_groups* groups, const cohort_recommend_config* config, int64_t n_queries,
                               const int32_t* users, int32_t* out_items, float* out_scores, size_t capacity) {
  return guarded(__func__, [&] {
    cohort_context& ctx = require(context, "context");
    const Interactions& data = require(dataset, "dataset").data;
    const cohort_recommend_config defaults = COHORT_RECOMMEND_CONFIG_INIT;
    // text_sharpness came later: a caller built against the first version gets its default.
    const cohort_recommend_config c =
        read_config(config, defaults, offsetof(cohort_recommend_config, text_sharpness), "config");
    const RecommenderKind kind = parse_recommender_kind(require_string(c.kind, "config->kind"));
    COHORT_CHECK(c.k >= 1, "config->k is {}, expected >= 1", c.k);
    COHORT_CHECK(c.knn_neighbours >= 1, "config->knn_neighbours is {}, expected >= 1", c.knn_neighbours);
    COHORT_CHECK(std::isfinite(c.blend_pivot) && c.blend_pivot >= 0.0, "config->blend_pivot is {}, expected >= 0",
                 c.blend_pivot);
    COHORT_CHECK(std::isfinite(c.text_sharpness) && c.text_sharpness >= 0.0,
                 "config->text_sharpness is {}, expected >= 0", c.text_sharpness);
    const cohort_dataset& d = *dataset;
    COHORT_CHECK(kind != RecommenderKind::text || d.catalog.has_text(),
                 "kind 'text' needs the dataset's item text: cohort_dataset_set_item_text or "
                 "cohort_dataset_item_text_from_file");
    const bool needs_model = kind == RecommenderKind::embedding || kind == RecommenderKind::blend;
    const bool needs_groups = kind == RecommenderKind::group || kind == RecommenderKind::blend;
    COHORT_CHECK(model != nullptr || !needs_model, "model is NULL; kind '{}' needs a model", c.kind);
    COHORT_CHECK(groups != nullptr || !needs_groups, "groups is NULL; kind '{}' needs groups", c.kind);
    if (model != nullptr) check_model_matches(*model, data);
    if (groups != nullptr)
      COHORT_CHECK(groups->users() == data.users() && groups->group_scores.cols == data.items(),
                   "groups cover {} users x {} items, the dataset has {} x {}", groups->users(),
                   groups->group_scores.cols, data.users(), data.items());
    COHORT_CHECK(n_queries >= 1, "n_queries is {}, expected >= 1", n_queries);
    require(users, "users");
    require(out_items, "out_items");
    check_capacity(capacity, n_queries * c.k, "out_items");
    std::vector<int32_t> rows(users, users + n_queries);
    for (int64_t q = 0; q < n_queries; ++q)
      COHORT_CHECK(rows[static_cast<std::size_t>(q)] >= 0 && rows[static_cast<std::size_t>(q)] < data.users(),
                   "users[{}] is {}, outside 0..{}", q, rows[static_cast<std::size_t>(q)], data.users() - 1);

    RecommendModel rec;
    if (groups != nullptr) {
      rec = build_recommend_model(data.user_items, groups->groups.assignment, groups->groups.k);
    } else {
      rec = build_recommend_model(data.user_items, std::vector<int32_t>(static_cast<std::size_t>(data.users()), -1), 0);
    }
    rec.blend_pivot = c.blend_pivot;
    if (model != nullptr) rec.item_factors = model->embeddings.items;
    if (kind == RecommenderKind::text) {
      rec.item_text = d.catalog.text_vectors;
      rec.text_sharpness = c.text_sharpness;
    }

    Queries queries;
    queries.seen = select_rows(data.user_items, rows);
    if (model != nullptr) queries.factors = select_rows(model->embeddings.users, rows);
    queries.group.assign(rows.size(), -1);
    if (groups != nullptr)
      for (std::size_t q = 0; q < rows.size(); ++q)
        queries.group[q] = groups->groups.assignment[static_cast<std::size_t>(rows[q])];
    if (kind == RecommenderKind::text) queries.text_profiles = text_profiles(queries.seen, rec.item_text);

    // Sharded over the context's workers: item-kNN's items, then the queries.
    const TopK top = ctx.sharded([&](const Context& engine) {
      RecommendModel mine = rec;
      if (kind == RecommenderKind::item_knn) fit_item_knn(engine, data.user_items, c.knn_neighbours, mine);
      return recommend(engine, kind, mine, queries, c.k);
    });
    COHORT_CHECK_STATUS(top.rows == n_queries && top.k == c.k, Status::internal,
                        "recommend returned {} x {}, expected {} x {}", top.rows, top.k, n_queries, c.k);
    std::copy(top.items.begin(), top.items.end(), out_items);
    if (out_scores) std::copy(top.scores.begin(), top.scores.end(), out_scores);
  });
}

}  // extern "C"
