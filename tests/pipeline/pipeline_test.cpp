// End to end on a small generated data set: the pipeline finds the planted groups, the
// embedding model beats popularity for warm users, and the blend beats popularity for
// cold-start users who revealed 3 items.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/data/generate.hpp"
#include "engine/pipeline/pipeline.hpp"
#include "kernels/cpu/cpu_backend.hpp"

namespace cohort {
namespace {

class PipelineEndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    GeneratorConfig gen;
    gen.users = 3000;
    gen.items = 800;
    gen.groups = 6;
    gen.item_clusters = 12;
    gen.interactions_per_user = 40;
    gen.seed = 7;
    data_ = new GeneratedData(generate_dataset(gen));
    backend_ = make_cpu_backend(0).release();
    comm_ = make_self_communicator().release();
    Context ctx{*backend_, *comm_, 7, 0, {}};
    PipelineConfig config;
    config.embed.factors = 32;
    config.embed.iterations = 10;
    config.sweep.k_min = 2;
    config.sweep.k_max = 10;
    config.sweep.restarts = 2;
    config.split.seed = 7;
    config.out_dir = (std::filesystem::temp_directory_path() / "cohort_pipeline_test").string();
    result_ = new PipelineResult(run_pipeline(ctx, data_->interactions, data_->catalog, data_->truth, config));
  }
  static void TearDownTestSuite() {
    delete result_;
    delete data_;
    delete comm_;
    delete backend_;
  }
  static double ndcg(const nlohmann::json& set, const char* recommender) {
    return set.at(recommender).at("ndcg@10").get<double>();
  }
  static GeneratedData* data_;
  static Backend* backend_;
  static Communicator* comm_;
  static PipelineResult* result_;
};
GeneratedData* PipelineEndToEnd::data_ = nullptr;
Backend* PipelineEndToEnd::backend_ = nullptr;
Communicator* PipelineEndToEnd::comm_ = nullptr;
PipelineResult* PipelineEndToEnd::result_ = nullptr;

TEST_F(PipelineEndToEnd, FindsThePlantedGroups) {
  const auto& groups = result_->metrics.at("groups");
  EXPECT_EQ(groups.at("k").get<int>(), 6);
  EXPECT_GE(groups.at("ari").get<double>(), 0.9);
  EXPECT_GE(groups.at("nmi").get<double>(), 0.85);
}

TEST_F(PipelineEndToEnd, EmbeddingBeatsPopularityForWarmUsers) {
  const auto& warm = result_->metrics.at("recommendation").at("warm");
  EXPECT_GT(ndcg(warm, "als"), ndcg(warm, "popularity") * 1.2);
}

TEST_F(PipelineEndToEnd, BlendBeatsPopularityForColdStartUsers) {
  const auto& cold = result_->metrics.at("recommendation").at("cold_start").at("3");
  EXPECT_GT(ndcg(cold, "blend"), ndcg(cold, "popularity") * 1.1);
}

// The generated items carry text vectors: the text recommender (users' interests read from
// the text of what they chose, weighed against popularity) is compared beside the others.
TEST_F(PipelineEndToEnd, TextRecommenderBeatsPopularityFromTheItemsText) {
  const auto& m = result_->metrics;
  ASSERT_TRUE(m["dataset"].contains("item_text"));
  EXPECT_EQ(m["dataset"]["item_text"]["items_with_text"].get<int64_t>(), data_->interactions.items());
  const auto& rec = m["recommendation"];
  EXPECT_GT(ndcg(rec["warm"], "text"), ndcg(rec["warm"], "popularity") * 1.2);
  EXPECT_GT(ndcg(rec["cold_start"]["3"], "text"), ndcg(rec["cold_start"]["3"], "popularity") * 1.1);
  EXPECT_TRUE(rec["per_group"][0].contains("text"));
}

// Each group's text direction points at its own taste: the item whose text is nearest it is
// of a cluster among the group's top tags (by lift).
TEST_F(PipelineEndToEnd, GroupsAreExplainedByTheirItemsText) {
  for (const GroupProfile& p : result_->groups.profiles) {
    ASSERT_FALSE(p.items_near_text.empty()) << "group " << p.group;
    const std::string& cluster = data_->catalog.tags[static_cast<size_t>(p.items_near_text[0].item)][0];
    bool among_top = false;
    for (size_t t = 0; t < p.top_tags.size() && t < 4; ++t) among_top |= p.top_tags[t].first == cluster;
    EXPECT_TRUE(among_top) << "group " << p.group << " (" << p.label << "): nearest text item of " << cluster;
    EXPECT_GT(p.items_near_text[0].score, 0.5);
  }
}

TEST_F(PipelineEndToEnd, MetricsJsonHasEveryKeyOfTheProtocol) {
  const auto& m = result_->metrics;
  for (const char* key : {"version", "dataset", "config", "groups", "recommendation", "timings_s"})
    EXPECT_TRUE(m.contains(key)) << key;
  for (const char* key : {"users", "items", "interactions", "skipped_lines"}) EXPECT_TRUE(m["dataset"].contains(key)) << key;
  for (const char* key : {"backend", "model", "factors", "seed"}) EXPECT_TRUE(m["config"].contains(key)) << key;
  for (const char* key : {"k", "silhouette", "davies_bouldin", "inertia", "sizes", "k_scores", "ari", "nmi", "truth_users"})
    EXPECT_TRUE(m["groups"].contains(key)) << key;
  // How many users the ARI and NMI were measured on: every generated user has a planted group.
  EXPECT_EQ(m["groups"]["truth_users"].get<int64_t>(), static_cast<int64_t>(data_->truth.size()));
  for (const char* key : {"load", "train", "groups", "evaluate", "total"}) EXPECT_TRUE(m["timings_s"].contains(key)) << key;
  // The steps inside the phases after load: each present, none negative, and together no more
  // than those phases (the caller gave no load steps here).
  const auto& steps = m["timings_s"]["steps"];
  double step_total = 0.0;
  for (const char* key : {"split", "train_embeddings", "sweep_k", "build_groups", "item_knn", "warm_evaluation",
                          "cold_evaluation", "per_group_evaluation", "cold_fold_in", "write"}) {
    ASSERT_TRUE(steps.contains(key)) << key;
    EXPECT_GE(steps[key].get<double>(), 0.0) << key;
  }
  for (const auto& [key, seconds] : steps.items()) step_total += seconds.get<double>();
  EXPECT_LE(step_total, m["timings_s"]["total"].get<double>() - m["timings_s"]["load"].get<double>() + 1e-3);
  const auto& rec = m["recommendation"];
  for (const char* r : {"popularity", "als", "group", "blend"}) {
    ASSERT_TRUE(rec["warm"].contains(r)) << r;
    for (const char* metric : {"precision", "recall", "f1", "ndcg", "map", "hit_rate", "mrr", "coverage"})
      for (const char* k : {"@10", "@20"})
        EXPECT_TRUE(rec["warm"][r].contains(std::string(metric) + k)) << r << " " << metric << k;
    for (const char* n : {"1", "3", "5"}) EXPECT_TRUE(rec["cold_start"][n].contains(r)) << n << " " << r;
  }
  ASSERT_EQ(rec["per_group"].size(), static_cast<size_t>(m["groups"]["k"].get<int>()));
  EXPECT_TRUE(rec["per_group"][0].contains("blend"));
}

TEST_F(PipelineEndToEnd, WritesEveryOutputFile) {
  const auto dir = std::filesystem::temp_directory_path() / "cohort_pipeline_test";
  for (const char* f : {"metrics.json", "groups.csv", "groups.json", "user_embeddings.npy", "item_embeddings.npy",
                        "model.cohort"})
    EXPECT_TRUE(std::filesystem::exists(dir / f)) << f;
  // Every user has a group, cold-start users included.
  for (int32_t g : result_->groups.assignment) EXPECT_GE(g, 0);
}

}  // namespace
}  // namespace cohort
