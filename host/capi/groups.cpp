// cohort_groups: users clustered on their L2-normalised factors (cosine k-means), and new
// users routed to them by fold-in, normalisation and the nearest centroid.
#include <algorithm>

#include "engine/cluster/model_selection.hpp"
#include "engine/data/rows.hpp"
#include "engine/recommend/recommend.hpp"
#include "host/capi/config.hpp"
#include "host/capi/handles.hpp"

using namespace cohort;
using namespace cohort::capi;

extern "C" {

cohort_status cohort_groups_discover(cohort_context* context, const cohort_dataset* dataset, const cohort_model* model,
                                     const cohort_groups_config* config, cohort_groups** out_groups) {
  return guarded(__func__, [&] {
    cohort_context& ctx = require(context, "context");
    const Interactions& data = require(dataset, "dataset").data;
    const cohort_model& m = require(model, "model");
    cohort_groups** out = &require(out_groups, "out_groups");
    SweepConfig sweep = to_sweep_config(config, "config");
    check_model_matches(m, data);

    std::vector<int32_t> users;
    for (int64_t u = 0; u < data.users(); ++u)
      if (data.user_items.row_length(u) > 0) users.push_back(static_cast<int32_t>(u));
    const auto n = static_cast<int64_t>(users.size());
    COHORT_CHECK_STATUS(n >= 3, Status::bad_input, "only {} users have interactions; at least 3 are needed", n);
    if (sweep.fixed_k > 0) {
      COHORT_CHECK(sweep.fixed_k < n, "config->k is {}, but only {} users have interactions", sweep.fixed_k, n);
    } else {
      sweep.k_max = static_cast<int>(std::min<int64_t>(sweep.k_max, n - 1));
      sweep.k_min = std::min(sweep.k_min, sweep.k_max);
    }

    const Matrix points = normalized_rows(select_rows(m.embeddings.users, users));
    const SweepResult result = ctx.sharded([&](const Context& engine) { return sweep_k(engine, points, sweep); });
    auto groups = std::make_unique<cohort_groups>();
    groups->groups = build_groups(result.best, users, data.users(), data.user_items, m.embeddings.items,
                                  ItemCatalog{}, ProfileOptions{});
    groups->group_scores =
        build_recommend_model(data.user_items, groups->groups.assignment, groups->groups.k).group_scores;
    *out = groups.release();
  });
}

cohort_status cohort_groups_k(const cohort_groups* groups, int* out_k, int64_t* out_users) {
  return guarded(__func__, [&] {
    const cohort_groups& g = require(groups, "groups");
    COHORT_CHECK(out_k || out_users, "out_k and out_users are both NULL");
    if (out_k) *out_k = g.groups.k;
    if (out_users) *out_users = g.users();
  });
}

cohort_status cohort_groups_assignment(const cohort_groups* groups, int32_t* out_group, float* out_confidence,
                                       size_t capacity) {
  return guarded(__func__, [&] {
    const cohort_groups& g = require(groups, "groups");
    COHORT_CHECK(out_group || out_confidence, "out_group and out_confidence are both NULL");
    check_capacity(capacity, g.users(), out_group ? "out_group" : "out_confidence");
    if (out_group) std::copy(g.groups.assignment.begin(), g.groups.assignment.end(), out_group);
    if (out_confidence) std::copy(g.groups.confidence.begin(), g.groups.confidence.end(), out_confidence);
  });
}

cohort_status cohort_groups_assign(cohort_context* context, const cohort_groups* groups, const cohort_model* model,
                                   int64_t n_new, const int64_t* indptr, const int32_t* items, const float* values,
                                   int32_t* out_group, float* out_confidence, size_t capacity) {
  return guarded(__func__, [&] {
    cohort_context& ctx = require(context, "context");
    const cohort_groups& g = require(groups, "groups");
    const cohort_model& m = require(model, "model");
    COHORT_CHECK(g.groups.centroids.cols == m.factors() && g.users() == m.users(),
                 "groups ({} users, {} dimensions) were not discovered on this model ({} users, {} factors)",
                 g.users(), g.groups.centroids.cols, m.users(), m.factors());
    const Csr rows = rows_from_c(n_new, indptr, items, values, m.items());
    COHORT_CHECK(out_group || out_confidence, "out_group and out_confidence are both NULL");
    check_capacity(capacity, n_new, out_group ? "out_group" : "out_confidence");

    const Matrix factors =
        ctx.sharded([&](const Context& engine) { return fold_in(engine, rows, m.embeddings, m.config); });
    std::vector<int32_t> group;
    std::vector<float> confidence;
    assign_to_groups(g.groups.centroids, normalized_rows(factors), group, confidence);
    // A user with no items has no direction to route by.
    for (int64_t r = 0; r < n_new; ++r) {
      if (rows.row_length(r) == 0) {
        group[static_cast<std::size_t>(r)] = -1;
        confidence[static_cast<std::size_t>(r)] = 0.0f;
      }
    }
    if (out_group) std::copy(group.begin(), group.end(), out_group);
    if (out_confidence) std::copy(confidence.begin(), confidence.end(), out_confidence);
  });
}

void cohort_groups_free(cohort_groups* groups) { delete groups; }

}  // extern "C"
