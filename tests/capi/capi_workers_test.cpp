// cohort_context_config.workers: a context of several workers trains, groups and evaluates
// sharded, with the one-worker results, through the library as a user's program calls it.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cohort/cohort.h"

namespace {

#define ASSERT_OK(call) ASSERT_EQ((call), COHORT_OK) << #call << ": " << cohort_last_error()

constexpr int64_t kUsers = 300;
constexpr int64_t kItems = 120;

// Three blocks of users, each reading mostly its own third of the items.
cohort_dataset* make_dataset() {
  std::mt19937 gen(4);
  std::vector<int32_t> users, items;
  for (int32_t u = 0; u < kUsers; ++u) {
    const int block = u % 3;
    for (int j = 0; j < 12; ++j) {
      const bool own = gen() % 10 < 8;
      const int32_t base = own ? block * 40 : static_cast<int32_t>(gen() % 3) * 40;
      users.push_back(u);
      items.push_back(base + static_cast<int32_t>(gen() % 40));
    }
  }
  cohort_dataset* data = nullptr;
  EXPECT_EQ(cohort_dataset_from_coo(kUsers, kItems, static_cast<int64_t>(users.size()), users.data(), items.data(),
                                    nullptr, &data),
            COHORT_OK)
      << cohort_last_error();
  return data;
}

struct Outputs {
  std::vector<float> user_factors;
  std::vector<int32_t> groups;
  std::string metrics;
  std::vector<float> folded;        // the calls that run on worker 0 alone: fold-in,
  std::vector<int32_t> knn_items;   // item-kNN recommendations
};

Outputs run_with(int64_t workers, cohort_dataset* data) {
  Outputs out;
  cohort_context_config cc = COHORT_CONTEXT_CONFIG_INIT;
  cc.backend = "cpu";
  cc.threads = 2;
  cc.workers = workers;
  cohort_context* ctx = nullptr;
  EXPECT_EQ(cohort_context_create(&cc, &ctx), COHORT_OK) << cohort_last_error();
  if (ctx == nullptr) return out;
  cohort_model_config mc = COHORT_MODEL_CONFIG_INIT;
  mc.factors = 8;
  mc.iterations = 4;
  cohort_model* model = nullptr;
  EXPECT_EQ(cohort_model_train(ctx, data, &mc, &model), COHORT_OK) << cohort_last_error();
  out.user_factors.resize(static_cast<size_t>(kUsers * 8));
  EXPECT_EQ(cohort_model_factors(model, out.user_factors.data(), out.user_factors.size(), nullptr, 0), COHORT_OK);
  cohort_groups_config gc = COHORT_GROUPS_CONFIG_INIT;
  gc.k_max = 6;
  cohort_groups* groups = nullptr;
  EXPECT_EQ(cohort_groups_discover(ctx, data, model, &gc, &groups), COHORT_OK) << cohort_last_error();
  out.groups.resize(static_cast<size_t>(kUsers));
  EXPECT_EQ(cohort_groups_assignment(groups, out.groups.data(), nullptr, out.groups.size()), COHORT_OK)
      << cohort_last_error();
  // Calls that do not shard (they run on worker 0 alone, and must not wait for the others).
  const std::vector<int64_t> indptr = {0, 3, 5};
  const std::vector<int32_t> new_items = {1, 2, 3, 50, 51};
  out.folded.resize(2 * 8);
  EXPECT_EQ(cohort_model_fold_in(ctx, model, 2, indptr.data(), new_items.data(), nullptr, out.folded.data(),
                                 out.folded.size()),
            COHORT_OK)
      << cohort_last_error();
  cohort_recommend_config rc = COHORT_RECOMMEND_CONFIG_INIT;
  rc.kind = "item_knn";
  const std::vector<int32_t> queries = {0, 1, 2};
  out.knn_items.resize(queries.size() * 10);
  EXPECT_EQ(cohort_recommend(ctx, data, nullptr, nullptr, &rc, 3, queries.data(), out.knn_items.data(), nullptr,
                             out.knn_items.size()),
            COHORT_OK)
      << cohort_last_error();
  size_t needed = 0;
  EXPECT_EQ(cohort_evaluate(ctx, data, &mc, &gc, nullptr, 0, &needed), COHORT_ERROR_BUFFER_TOO_SMALL);
  out.metrics.assign(needed, '\0');
  EXPECT_EQ(cohort_evaluate(ctx, data, &mc, &gc, out.metrics.data(), out.metrics.size(), &needed), COHORT_OK)
      << cohort_last_error();
  cohort_groups_free(groups);
  cohort_model_free(model);
  cohort_context_free(ctx);
  return out;
}

// The metrics without what differs between the runs: timings, the workers and their
// backends' thread counts, and the silhouettes, whose GEMMs BLAS may block differently with
// another thread count (their sums are float: checked to 1e-6).
nlohmann::json comparable(const std::string& metrics, std::vector<double>* silhouettes) {
  nlohmann::json m = nlohmann::json::parse(metrics);
  m.erase("timings_s");
  m["config"].erase("backend_description");
  m["config"].erase("workers");
  for (auto& score : m["groups"]["k_scores"]) {
    silhouettes->push_back(score["silhouette"].get<double>());
    score.erase("silhouette");
  }
  silhouettes->push_back(m["groups"]["silhouette"].get<double>());
  m["groups"].erase("silhouette");
  return m;
}

TEST(CapiWorkers, ThreeWorkersGiveTheOneWorkerModelGroupsAndMetrics) {
  cohort_dataset* data = make_dataset();
  ASSERT_NE(data, nullptr);
  const Outputs one = run_with(1, data);
  const Outputs three = run_with(3, data);
  EXPECT_EQ(three.user_factors, one.user_factors);
  EXPECT_EQ(three.groups, one.groups);
  EXPECT_EQ(three.folded, one.folded);
  EXPECT_EQ(three.knn_items, one.knn_items);
  ASSERT_FALSE(one.metrics.empty());
  EXPECT_EQ(nlohmann::json::parse(three.metrics)["config"]["workers"], 3);
  // Compared whole, reported as a JSON patch: the metrics run to thousands of lines.
  std::vector<double> silhouettes_one, silhouettes_three;
  const nlohmann::json a = comparable(one.metrics, &silhouettes_one);
  const nlohmann::json b = comparable(three.metrics, &silhouettes_three);
  EXPECT_TRUE(a == b) << "3 workers' metrics differ from one worker's: " << nlohmann::json::diff(a, b).dump();
  ASSERT_EQ(silhouettes_three.size(), silhouettes_one.size());
  for (size_t i = 0; i < silhouettes_one.size(); ++i) EXPECT_NEAR(silhouettes_three[i], silhouettes_one[i], 1e-6);
  cohort_dataset_free(data);
}

// A worker's error is the call's; the context's workers then serve the next call.
TEST(CapiWorkers, AContextRunsAgainAfterAFailedCall) {
  cohort_dataset* data = make_dataset();
  ASSERT_NE(data, nullptr);
  cohort_context_config cc = COHORT_CONTEXT_CONFIG_INIT;
  cc.backend = "cpu";
  cc.workers = 2;
  cohort_context* ctx = nullptr;
  ASSERT_OK(cohort_context_create(&cc, &ctx));
  cohort_model_config mc = COHORT_MODEL_CONFIG_INIT;
  mc.factors = 4;
  mc.iterations = 2;
  // More groups than users to group: found inside the sharded pipeline, after its training.
  cohort_groups_config gc = COHORT_GROUPS_CONFIG_INIT;
  gc.k = 290;
  size_t needed = 0;
  EXPECT_EQ(cohort_evaluate(ctx, data, &mc, &gc, nullptr, 0, &needed), COHORT_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(cohort_last_error()).find("k = 290"), std::string::npos) << cohort_last_error();
  gc.k = 3;
  EXPECT_EQ(cohort_evaluate(ctx, data, &mc, &gc, nullptr, 0, &needed), COHORT_ERROR_BUFFER_TOO_SMALL)
      << cohort_last_error();
  EXPECT_GT(needed, 100u);
  cohort_context_free(ctx);
  cohort_dataset_free(data);
}

TEST(CapiWorkers, BadCountsAndOlderHeaders) {
  cohort_context_config cc = COHORT_CONTEXT_CONFIG_INIT;
  cc.backend = "cpu";
  cc.workers = -1;
  cohort_context* ctx = nullptr;
  EXPECT_EQ(cohort_context_create(&cc, &ctx), COHORT_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(cohort_last_error()).find("workers"), std::string::npos) << cohort_last_error();
  EXPECT_EQ(ctx, nullptr);
  cc.workers = 0;  // one
  ASSERT_OK(cohort_context_create(&cc, &ctx));
  cohort_context_free(ctx);
  // A header from before workers: one worker.
  cc = COHORT_CONTEXT_CONFIG_INIT;
  cc.backend = "cpu";
  cc.workers = 99;
  cc.struct_size = offsetof(cohort_context_config, workers);
  ctx = nullptr;
  ASSERT_OK(cohort_context_create(&cc, &ctx));
  cohort_context_free(ctx);
}

}  // namespace
