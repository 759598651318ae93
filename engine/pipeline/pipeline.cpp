#include "engine/pipeline/pipeline.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <numeric>
#include <optional>

#include <fmt/format.h>

#include "engine/comm/agree.hpp"
#include "engine/evaluate/metrics.hpp"
#include "engine/io/files.hpp"
#include "engine/pipeline/outputs.hpp"
#include "engine/data/rows.hpp"
#include "engine/embed/text_profiles.hpp"
#include "engine/recommend/recommend.hpp"
#include "kernels/error.hpp"

namespace cohort {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Seconds of each step inside the phases (timings_s.steps in metrics.json): where a run's time
// goes, on the GPU too, where host-side steps can outweigh the kernels.
class StepClock {
 public:
  // The time since the previous lap (or the start) is charged to `step`.
  void lap(const char* step) {
    const auto now = Clock::now();
    steps_[step] = steps_.value(step, 0.0) + std::chrono::duration<double>(now - last_).count();
    last_ = now;
  }
  const nlohmann::json& steps() const { return steps_; }

 private:
  Clock::time_point last_ = Clock::now();
  nlohmann::json steps_ = nlohmann::json::object();
};

nlohmann::json to_json(const MetricSet& metrics) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, value] : metrics) out[name] = value;
  return out;
}

// The recommenders every run compares, with their metrics.json names.
struct NamedRecommender {
  std::string name;
  RecommenderKind kind;
};

std::vector<NamedRecommender> compared_recommenders(const EmbedConfig& embed, bool with_text) {
  std::vector<NamedRecommender> out = {{"popularity", RecommenderKind::popularity},
                                       {model_kind_name(embed.model), RecommenderKind::embedding},
                                       {"group", RecommenderKind::group},
                                       {"blend", RecommenderKind::blend},
                                       {"item_knn", RecommenderKind::item_knn}};
  if (with_text) out.push_back({"text", RecommenderKind::text});
  return out;
}

struct QueryEvaluation {
  nlohmann::json metrics = nlohmann::json::object();     // recommender -> MetricSet
  std::vector<std::pair<std::string, UserMetrics>> per_user;
  std::vector<std::pair<std::string, TopK>> recs;
};

// recommend_many shards the queries over the ranks and gathers the lists; each rank scores
// all of them (cheap beside recommending), as one rank does.
QueryEvaluation evaluate_queries(const Context& ctx, const RecommendModel& model, const Queries& queries,
                                 const Csr& test, const std::vector<NamedRecommender>& recommenders) {
  QueryEvaluation out;
  const int k = *std::max_element(kMetricCutoffs.begin(), kMetricCutoffs.end());
  std::vector<RecommenderKind> kinds;
  std::string names;
  for (const auto& r : recommenders) {
    kinds.push_back(r.kind);
    names += (names.empty() ? "'" : ", '") + r.name + "'";
  }
  std::vector<TopK> all;
  try {
    all = recommend_many(ctx, kinds, model, queries, k);  // the als and blend products once
  } catch (const Error& e) {
    throw Error(e.status(), fmt::format("{} (recommenders {}, {} users)", e.what(), names, queries.seen.rows));
  }
  for (size_t i = 0; i < recommenders.size(); ++i) {
    const auto& r = recommenders[i];
    TopK& recs = all[i];
    UserMetrics per_user;
    try {
      per_user = score_users(recs, test);
    } catch (const Error& e) {
      throw Error(e.status(), fmt::format("{} (recommender '{}', {} users)", e.what(), r.name, queries.seen.rows));
    }
    out.metrics[r.name] = to_json(summarize(per_user, recs, model.items));
    out.per_user.emplace_back(r.name, std::move(per_user));
    out.recs.emplace_back(r.name, std::move(recs));
  }
  return out;
}

// Routes users to groups from their factors, as new users are routed.
void route_to_groups(const Groups& groups, const Matrix& factors, std::vector<int32_t>& group,
                     std::vector<float>& confidence) {
  assign_to_groups(groups.centroids, normalized_rows(factors), group, confidence);
}

}  // namespace

PipelineResult run_pipeline(const Context& ctx, const Interactions& data, const ItemCatalog& catalog,
                            const std::vector<int32_t>& truth, const PipelineConfig& config) {
  const auto start = Clock::now();
  COHORT_CHECK(truth.empty() || static_cast<int64_t>(truth.size()) == data.users(),
               "truth has {} users, the data {}", truth.size(), data.users());
  PipelineResult result;
  nlohmann::json timings;
  StepClock steps;
  check_values_for_model(data, config.embed);
  check_ranks_agree(ctx, "the interactions", fingerprint(data.user_items));

  // Train on the warm users' training interactions.
  auto phase = Clock::now();
  result.split = split_interactions(data, config.split);
  const Split& split = result.split;
  steps.lap("split");
  result.embeddings = train_embeddings(ctx, split.train, config.embed);
  steps.lap("train_embeddings");
  timings["train"] = seconds_since(phase);

  // Groups of the warm users, on their normalised embeddings.
  phase = Clock::now();
  std::vector<char> is_cold(static_cast<size_t>(data.users()), 0);
  for (int32_t u : split.cold_users) is_cold[static_cast<size_t>(u)] = 1;
  std::vector<int32_t> warm_users;
  for (int64_t u = 0; u < data.users(); ++u)
    if (!is_cold[static_cast<size_t>(u)] && split.train.row_length(u) > 0) warm_users.push_back(static_cast<int32_t>(u));
  COHORT_CHECK_STATUS(static_cast<int64_t>(warm_users.size()) >= 2, Status::bad_input,
                      "only {} users are left to cluster after the split; the data set is too small",
                      warm_users.size());
  Matrix warm_points = normalized_rows(select_rows(result.embeddings.users, warm_users));
  COHORT_CHECK(config.sweep.fixed_k <= static_cast<int64_t>(warm_users.size()),
               "k = {} is more than the {} users to group (warm users with training interactions after the split)",
               config.sweep.fixed_k, warm_users.size());
  SweepConfig sweep_config = config.sweep;
  sweep_config.k_max = static_cast<int>(std::min<int64_t>(sweep_config.k_max, static_cast<int64_t>(warm_users.size()) - 1));
  sweep_config.k_min = std::min(sweep_config.k_min, sweep_config.k_max);
  steps.lap("warm_points");
  result.sweep = sweep_k(ctx, warm_points, sweep_config);
  steps.lap("sweep_k");
  result.groups = build_groups(result.sweep.best, warm_users, data.users(), split.train, result.embeddings.items,
                               catalog, config.profiles);
  steps.lap("build_groups");
  Groups& groups = result.groups;
  timings["groups"] = seconds_since(phase);

  // Recommend and evaluate: warm users, then cold-start users for each revealed count.
  phase = Clock::now();
  RecommendModel rec_model = build_recommend_model(split.train, groups.assignment, groups.k);
  rec_model.item_factors = result.embeddings.items;
  steps.lap("recommend_model");
  fit_item_knn(ctx, apply_weighting(split.train, config.knn_weighting), config.knn_neighbours, rec_model);
  steps.lap("item_knn");
  const bool with_text = catalog.has_text();
  if (with_text) {
    COHORT_CHECK(catalog.text_vectors.rows == data.items(), "the catalog has {} item text vectors for {} items",
                 catalog.text_vectors.rows, data.items());
    rec_model.item_text = catalog.text_vectors;
    rec_model.text_sharpness = config.text_sharpness;
  }
  const auto recommenders = compared_recommenders(config.embed, with_text);

  std::vector<int32_t> warm_queries;
  for (int32_t u : warm_users)
    if (split.warm_test.row_length(u) > 0) warm_queries.push_back(u);
  Queries warm;
  warm.seen = select_rows(split.train, warm_queries);
  warm.factors = select_rows(result.embeddings.users, warm_queries);
  for (int32_t u : warm_queries) warm.group.push_back(groups.assignment[static_cast<size_t>(u)]);
  if (with_text) warm.text_profiles = text_profiles(warm.seen, catalog.text_vectors);
  const Csr warm_test = select_rows(split.warm_test, warm_queries);
  QueryEvaluation warm_eval = evaluate_queries(ctx, rec_model, warm, warm_test, recommenders);
  // Explicit MF predicts ratings: how well, beside how well it ranks.
  std::optional<RatingErrors> rating;
  if (config.embed.model == ModelKind::mf) {
    const std::vector<float>& train_values = split.train.values;
    const double mean = train_values.empty() ? 1.0
                                              : std::accumulate(train_values.begin(), train_values.end(), 0.0) /
                                                    static_cast<double>(train_values.size());
    rating = rating_errors(warm.factors, result.embeddings.items, warm_test, mean);
  }
  steps.lap("warm_evaluation");

  nlohmann::json cold_json = nlohmann::json::object();
  for (const ColdStartSet& cold : split.cold) {
    if (split.cold_users.empty()) break;
    Queries q;
    q.seen = select_rows(cold.revealed, split.cold_users);
    q.factors = fold_in(ctx, q.seen, result.embeddings, config.embed);
    std::vector<float> confidence;
    route_to_groups(groups, q.factors, q.group, confidence);
    if (with_text) q.text_profiles = text_profiles(q.seen, catalog.text_vectors);
    cold_json[std::to_string(cold.revealed_count)] =
        evaluate_queries(ctx, rec_model, q, select_rows(cold.test, split.cold_users), recommenders).metrics;
  }
  steps.lap("cold_evaluation");

  // Per group: the warm users of each group, every recommender.
  nlohmann::json per_group = nlohmann::json::array();
  for (int g = 0; g < groups.k; ++g) {
    std::vector<int32_t> subset;
    for (size_t q = 0; q < warm_queries.size(); ++q)
      if (warm.group[q] == g) subset.push_back(static_cast<int32_t>(q));
    nlohmann::json entry{{"group", g}, {"label", groups.profiles[static_cast<size_t>(g)].label},
                         {"users", static_cast<int64_t>(subset.size())}};
    for (size_t r = 0; r < warm_eval.per_user.size(); ++r)
      entry[warm_eval.per_user[r].first] =
          to_json(summarize_rows(warm_eval.per_user[r].second, warm_eval.recs[r].second, data.items(), subset));
    per_group.push_back(std::move(entry));
  }
  steps.lap("per_group_evaluation");
  timings["evaluate"] = seconds_since(phase);

  // Every user gets an embedding and a group: cold users folded in from all their
  // interactions and routed, as a new user would be.
  phase = Clock::now();
  if (!split.cold_users.empty()) {
    Matrix cold_factors = fold_in(ctx, select_rows(data.user_items, split.cold_users), result.embeddings, config.embed);
    std::vector<int32_t> g;
    std::vector<float> c;
    route_to_groups(groups, cold_factors, g, c);
    for (size_t i = 0; i < split.cold_users.size(); ++i) {
      const int32_t u = split.cold_users[i];
      std::copy(cold_factors.row(static_cast<int64_t>(i)), cold_factors.row(static_cast<int64_t>(i)) + cold_factors.cols,
                result.embeddings.users.row(u));
      groups.assignment[static_cast<size_t>(u)] = g[i];
      groups.confidence[static_cast<size_t>(u)] = c[i];
    }
  }
  steps.lap("cold_fold_in");

  nlohmann::json& m = result.metrics;
  m["version"] = 1;
  m["dataset"] = {{"users", data.users()},
                  {"items", data.items()},
                  {"interactions", data.nnz()},
                  {"skipped_lines", data.skipped_lines},
                  {"duplicates_merged", data.duplicates_merged},
                  {"train_interactions", split.train.nnz()},
                  {"warm_test_users", static_cast<int64_t>(warm_queries.size())},
                  {"cold_users", static_cast<int64_t>(split.cold_users.size())}};
  if (catalog.has_text())
    m["dataset"]["item_text"] = {{"dimensions", catalog.text_vectors.cols}, {"items_with_text", catalog.items_with_text}};
  m["config"] = {{"backend", config.backend_name},
                 {"backend_description", ctx.backend.description()},
                 {"workers", ctx.comm.size()},
                 {"model", model_kind_name(config.embed.model)},
                 {"factors", config.embed.factors},
                 {"iterations", config.embed.iterations},
                 {"regularization", config.embed.regularization},
                 {"alpha", config.embed.alpha},
                 {"seed", ctx.seed},
                 {"k_min", sweep_config.fixed_k > 0 ? sweep_config.fixed_k : sweep_config.k_min},
                 {"k_max", sweep_config.fixed_k > 0 ? sweep_config.fixed_k : sweep_config.k_max},
                 {"restarts", sweep_config.restarts}};
  nlohmann::json sizes = nlohmann::json::array();
  for (const auto& p : groups.profiles) sizes.push_back(p.size);
  nlohmann::json k_scores = nlohmann::json::array();
  for (const KScore& s : result.sweep.k_scores)
    k_scores.push_back({{"k", s.k}, {"silhouette", s.silhouette}, {"inertia", s.inertia},
                        {"davies_bouldin", s.davies_bouldin}});
  m["groups"] = {{"k", groups.k},
                 {"silhouette", result.sweep.silhouette},
                 {"davies_bouldin", result.sweep.davies_bouldin},
                 {"inertia", result.sweep.best.inertia},
                 {"sizes", sizes},
                 {"k_scores", k_scores}};
  if (!truth.empty()) {
    m["groups"]["ari"] = adjusted_rand_index(groups.assignment, truth);
    m["groups"]["nmi"] = normalized_mutual_info(groups.assignment, truth);
    m["groups"]["truth_users"] = std::count_if(truth.begin(), truth.end(), [](int32_t g) { return g >= 0; });
  }
  m["recommendation"] = {{"warm", warm_eval.metrics}, {"cold_start", cold_json}, {"per_group", per_group}};
  if (rating)
    m["rating_prediction"] = {{"held_out_ratings", rating->ratings},
                              {"rmse", rating->rmse},
                              {"mae", rating->mae},
                              {"mean_rating_rmse", rating->baseline_rmse}};

  steps.lap("metrics");
  result.model = make_saved_model(config.embed, result.embeddings, groups, rec_model, data);
  if (!config.out_dir.empty()) {
    write_pipeline_outputs(config.out_dir, data, catalog, result);
  }
  steps.lap("write");
  timings["write"] = seconds_since(phase);
  timings["load"] = config.load_seconds;
  timings["total"] = config.load_seconds + seconds_since(start);
  timings["steps"] = steps.steps();
  if (config.load_data_seconds >= 0.0) timings["steps"]["load_data"] = config.load_data_seconds;
  if (config.backend_start_seconds >= 0.0) timings["steps"]["backend_start"] = config.backend_start_seconds;
  m["timings_s"] = timings;
  if (!config.out_dir.empty()) write_metrics(config.out_dir, m);
  return result;
}

}  // namespace cohort
