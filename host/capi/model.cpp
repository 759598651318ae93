// cohort_model: training, factors, fold-in, and the model file.
#include <algorithm>

#include "engine/io/model_file.hpp"
#include "engine/recommend/recommend.hpp"
#include "host/capi/config.hpp"
#include "host/capi/handles.hpp"

using namespace cohort;
using namespace cohort::capi;

namespace {

void copy_matrix(const Matrix& m, float* out, std::size_t capacity, const char* name) {
  check_capacity(capacity, m.rows * m.cols, name);
  std::copy(m.data.begin(), m.data.end(), out);
}

SavedModel to_saved_model(const cohort_model& model, const cohort_groups* groups) {
  SavedModel saved;
  saved.config = model.config;
  saved.embeddings = model.embeddings;
  saved.popularity = model.popularity;
  saved.user_ids = model.user_ids;
  saved.item_ids = model.item_ids;
  if (groups != nullptr) {
    COHORT_CHECK(groups->users() == model.users() && groups->groups.centroids.cols == model.factors(),
                 "groups ({} users, {} dimensions) do not come from this model ({} users, {} factors)",
                 groups->users(), groups->groups.centroids.cols, model.users(), model.factors());
    saved.groups_k = groups->groups.k;
    saved.centroids = groups->groups.centroids;
    saved.assignment = groups->groups.assignment;
    saved.confidence = groups->groups.confidence;
    saved.group_scores = groups->group_scores;
  } else {
    saved.assignment.assign(static_cast<std::size_t>(model.users()), -1);
    saved.confidence.assign(static_cast<std::size_t>(model.users()), 0.0f);
    saved.group_scores = Matrix(0, model.items());
  }
  return saved;
}

}  // namespace

extern "C" {

cohort_status cohort_model_train(cohort_context* context, const cohort_dataset* dataset,
                                 const cohort_model_config* config, cohort_model** out_model) {
  return guarded(__func__, [&] {
    cohort_context& ctx = require(context, "context");
    const Interactions& data = require(dataset, "dataset").data;
    cohort_model** out = &require(out_model, "out_model");
    COHORT_CHECK(data.nnz() > 0, "dataset has no interactions");
    auto model = std::make_unique<cohort_model>();
    model->config = to_embed_config(config, "config");
    check_values_for_model(data, model->config);
    model->embeddings =
        ctx.sharded([&](const Context& engine) { return train_embeddings(engine, data.user_items, model->config); });
    model->user_ids = data.user_ids;
    model->item_ids = data.item_ids;
    model->popularity = build_recommend_model(data.user_items, std::vector<int32_t>(data.user_ids.size(), -1), 0)
                            .popularity;
    *out = model.release();
  });
}

cohort_status cohort_model_shape(const cohort_model* model, int64_t* out_users, int64_t* out_items,
                                 int32_t* out_factors) {
  return guarded(__func__, [&] {
    const cohort_model& m = require(model, "model");
    COHORT_CHECK(out_users || out_items || out_factors, "out_users, out_items and out_factors are all NULL");
    if (out_users) *out_users = m.users();
    if (out_items) *out_items = m.items();
    if (out_factors) *out_factors = m.factors();
  });
}

cohort_status cohort_model_factors(const cohort_model* model, float* out_user_factors, size_t user_capacity,
                                   float* out_item_factors, size_t item_capacity) {
  return guarded(__func__, [&] {
    const cohort_model& m = require(model, "model");
    COHORT_CHECK(out_user_factors || out_item_factors, "out_user_factors and out_item_factors are both NULL");
    if (out_user_factors) check_capacity(user_capacity, m.users() * m.factors(), "out_user_factors");
    if (out_item_factors) check_capacity(item_capacity, m.items() * m.factors(), "out_item_factors");
    if (out_user_factors) copy_matrix(m.embeddings.users, out_user_factors, user_capacity, "out_user_factors");
    if (out_item_factors) copy_matrix(m.embeddings.items, out_item_factors, item_capacity, "out_item_factors");
  });
}

cohort_status cohort_model_fold_in(cohort_context* context, const cohort_model* model, int64_t n_new,
                                   const int64_t* indptr, const int32_t* items, const float* values,
                                   float* out_factors, size_t capacity) {
  return guarded(__func__, [&] {
    cohort_context& ctx = require(context, "context");
    const cohort_model& m = require(model, "model");
    const Csr rows = rows_from_c(n_new, indptr, items, values, m.items());
    require(out_factors, "out_factors");
    check_capacity(capacity, n_new * m.factors(), "out_factors");
    const Matrix factors =
        ctx.sharded([&](const Context& engine) { return fold_in(engine, rows, m.embeddings, m.config); });
    COHORT_CHECK_STATUS(factors.rows == n_new && factors.cols == m.factors(), Status::internal,
                        "fold_in returned {} x {}, expected {} x {}", factors.rows, factors.cols, n_new, m.factors());
    copy_matrix(factors, out_factors, capacity, "out_factors");
  });
}

cohort_status cohort_model_save(const cohort_model* model, const cohort_groups* groups, const char* path) {
  return guarded(__func__, [&] {
    const cohort_model& m = require(model, "model");
    const std::string file = require_string(path, "path");
    save_model(file, to_saved_model(m, groups));
  });
}

cohort_status cohort_model_load(const char* path, cohort_model** out_model, cohort_groups** out_groups) {
  return guarded(__func__, [&] {
    const std::string file = require_string(path, "path");
    cohort_model** out = &require(out_model, "out_model");
    SavedModel saved = load_model(file);
    auto model = std::make_unique<cohort_model>();
    model->config = saved.config;
    model->embeddings = std::move(saved.embeddings);
    model->user_ids = std::move(saved.user_ids);
    model->item_ids = std::move(saved.item_ids);
    model->popularity = std::move(saved.popularity);
    std::unique_ptr<cohort_groups> groups;
    if (out_groups != nullptr && saved.groups_k > 0) {
      groups = std::make_unique<cohort_groups>();
      groups->groups.k = saved.groups_k;
      groups->groups.centroids = std::move(saved.centroids);
      groups->groups.assignment = std::move(saved.assignment);
      groups->groups.confidence = std::move(saved.confidence);
      groups->group_scores = std::move(saved.group_scores);
    }
    *out = model.release();
    if (out_groups != nullptr) *out_groups = groups.release();
  });
}

void cohort_model_free(cohort_model* model) { delete model; }

}  // extern "C"
