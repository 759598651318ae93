#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "engine/data/generate.hpp"
#include "engine/pipeline/outputs.hpp"
#include "engine/pipeline/pipeline.hpp"
#include "host/cli/commands.hpp"
#include "host/cli/options.hpp"

namespace cohort::cli {
namespace {

struct PipelineOptions {
  InputOptions input;
  RunOptions run;
  ModelOptions model;
  GroupOptions groups;
  int neighbours = 100;
  std::string knn_weighting = "none";
  double text_sharpness = 4.0;
  std::string out = "cohort-out";
};

void add_pipeline_options(CLI::App& cmd, PipelineOptions& o) {
  add_input_options(cmd, o.input, false);
  add_run_options(cmd, o.run);
  add_model_options(cmd, o.model);
  add_group_options(cmd, o.groups);
  cmd.add_option("--neighbours", o.neighbours, "item-kNN neighbours per item")->check(CLI::Range(1, 10000))->capture_default_str();
  cmd.add_option("--knn-weighting", o.knn_weighting, "weighting before item-item cosine: none | bm25 | tfidf")
      ->check(CLI::IsMember({"none", "bm25", "tfidf"}))
      ->capture_default_str();
  cmd.add_option("--text-sharpness", o.text_sharpness,
                 "text recommender (with --item-text-vectors): score = sharpness * cosine(user's text profile, "
                 "item) + log(popularity)")
      ->check(CLI::Range(0.0, 1000.0))
      ->capture_default_str();
  cmd.add_option("--out", o.out, "output directory")->capture_default_str();
}

double metric(const nlohmann::json& set, const std::string& recommender, const char* name) {
  if (!set.contains(recommender) || !set[recommender].contains(name)) return 0.0;
  return set[recommender][name].get<double>();
}

void print_summary(const nlohmann::json& m, const std::string& out_dir, bool all_outputs) {
  const auto& d = m["dataset"];
  const auto& g = m["groups"];
  const std::string model = m["config"]["model"];
  std::printf("data:    %lld users x %lld items, %lld interactions, %lld bad lines skipped\n",
              d["users"].get<long long>(), d["items"].get<long long>(), d["interactions"].get<long long>(),
              d["skipped_lines"].get<long long>());
  std::string truth;
  if (g.contains("ari"))
    truth = fmt::format(", ARI {:.3f}, NMI {:.3f} against the known groups of {} users", g["ari"].get<double>(),
                        g["nmi"].get<double>(), g["truth_users"].get<long long>());
  std::printf("groups:  k = %d, silhouette %.3f, Davies-Bouldin %.3f%s\n", g["k"].get<int>(),
              g["silhouette"].get<double>(), g["davies_bouldin"].get<double>(), truth.c_str());
  std::vector<std::string> recs = {"popularity", model, "group", "blend", "item_knn"};
  if (m["recommendation"]["warm"].contains("text")) recs.push_back("text");
  std::string header = fmt::format("{:<22}", "NDCG@10");
  for (const auto& r : recs) header += fmt::format("{:>15}", r);
  std::printf("%s\n", header.c_str());
  auto row = [&](const std::string& label, const nlohmann::json& set) {
    std::string line = fmt::format("{:<22}", label);
    const double base = metric(set, "popularity", "ndcg@10");
    for (const auto& r : recs) {
      const double v = metric(set, r, "ndcg@10");
      line += r == "popularity" || base <= 0.0 ? fmt::format("{:>15.4f}", v)
                                               : fmt::format("{:>15}", fmt::format("{:.4f} {:+.0f}%", v, 100.0 * (v / base - 1.0)));
    }
    std::printf("%s\n", line.c_str());
  };
  const auto& rec = m["recommendation"];
  // A set with no users averages to zeros; say that there was nothing to measure instead.
  if (d.value("warm_test_users", int64_t{0}) > 0)
    row("warm users", rec["warm"]);
  else
    std::printf("%-22s none held out: no user has the 2 interactions that holding one out needs\n", "warm users");
  bool any_cold = false;
  for (const char* n : {"1", "3", "5"}) {
    if (!rec["cold_start"].contains(n)) continue;
    row(fmt::format("cold start, {} seen", n), rec["cold_start"][n]);
    any_cold = true;
  }
  if (!any_cold)
    std::printf("%-22s none held out: cold-start users are drawn from users with %d or more interactions\n",
                "cold start", SplitOptions{}.cold_min_interactions);
  if (m.contains("rating_prediction")) {
    const auto& r = m["rating_prediction"];
    std::printf("ratings: RMSE %.4f, MAE %.4f on %lld held-out ratings (the training mean for every one: RMSE %.4f)\n",
                r["rmse"].get<double>(), r["mae"].get<double>(), r["held_out_ratings"].get<long long>(),
                r["mean_rating_rmse"].get<double>());
  }
  const auto& t = m["timings_s"];
  std::printf("time:    load %.1fs, train %.1fs, groups %.1fs, evaluate %.1fs, total %.1fs\n", t["load"].get<double>(),
              t["train"].get<double>(), t["groups"].get<double>(), t["evaluate"].get<double>(), t["total"].get<double>());
  if (all_outputs)
    std::printf("wrote:   %s/{metrics.json, groups.csv, groups.json, user_embeddings.npy, item_embeddings.npy, model.cohort}\n",
                out_dir.c_str());
  else
    std::printf("wrote:   %s/metrics.json\n", out_dir.c_str());
}

void run_pipeline_command(const PipelineOptions& o, bool all_outputs) {
  // "load" runs until the data is in memory and the backend (made meanwhile) is ready.
  const auto command_start = std::chrono::steady_clock::now();
  Runtime runtime(o.run);
  LoadedData loaded;
  if (o.input.input.empty()) {
    // The built-in data set, with its planted groups as the truth.
    runtime.printer().note("no --input: generating the built-in data set (see `cohort generate --help`)");
    GeneratorConfig gen;
    gen.seed = o.run.seed;
    const auto start = std::chrono::steady_clock::now();
    GeneratedData data = generate_dataset(gen);
    loaded.data = std::move(data.interactions);
    loaded.catalog = std::move(data.catalog);
    loaded.truth = std::move(data.truth);
    if (!o.input.item_text_vectors.empty())
      read_item_text_vectors(o.input.item_text_vectors, loaded.data.item_ids, loaded.catalog);
    loaded.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } else {
    loaded = load_input(o.input, runtime.printer());
  }
  PipelineConfig config;
  config.embed = to_embed_config(o.model);
  config.sweep = to_sweep_config(o.groups);
  config.split.seed = o.run.seed;
  config.knn_neighbours = o.neighbours;
  config.knn_weighting = parse_weighting(o.knn_weighting);
  config.text_sharpness = o.text_sharpness;
  config.backend_name = runtime.backend().name();
  config.load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - command_start).count();
  config.load_data_seconds = loaded.seconds;
  config.backend_start_seconds = runtime.backend_start_seconds();
  // Every worker runs the pipeline on its shards; the root process's first one writes.
  PipelineResult result;
  runtime.run([&](const Context& ctx, int worker) {
    PipelineConfig mine = config;
    const bool writes = worker == 0 && runtime.root();
    if (all_outputs && writes) mine.out_dir = o.out;
    PipelineResult r = run_pipeline(ctx, loaded.data, loaded.catalog, loaded.truth, mine);
    if (writes) result = std::move(r);
  });
  if (!runtime.root()) return;
  if (!all_outputs) write_metrics(o.out, result.metrics);
  print_summary(result.metrics, o.out, all_outputs);
}

}  // namespace

void add_pipeline_command(CLI::App& app) {
  auto o = std::make_shared<PipelineOptions>();
  auto* cmd = app.add_subcommand("pipeline",
                                 "the main job: load (or generate), train, discover groups, recommend, evaluate, "
                                 "and write metrics.json, groups.csv, groups.json, embeddings and the model");
  add_pipeline_options(*cmd, *o);
  cmd->callback([o] { run_pipeline_command(*o, true); });
}

void add_evaluate_command(CLI::App& app) {
  auto o = std::make_shared<PipelineOptions>();
  auto* cmd = app.add_subcommand("evaluate", "the evaluation protocol alone: writes only metrics.json");
  add_pipeline_options(*cmd, *o);
  cmd->callback([o] { run_pipeline_command(*o, false); });
}

}  // namespace cohort::cli
