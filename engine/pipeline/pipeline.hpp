// The main job: split, train, discover groups, recommend and evaluate, write the outputs.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/cluster/model_selection.hpp"
#include "engine/context.hpp"
#include "engine/data/clean.hpp"
#include "engine/data/interactions.hpp"
#include "engine/data/items.hpp"
#include "engine/data/split.hpp"
#include "engine/embed/embed.hpp"
#include "engine/groups/groups.hpp"
#include "engine/io/model_file.hpp"

namespace cohort {

struct PipelineConfig {
  EmbedConfig embed;
  SweepConfig sweep;           // k range or fixed k, restarts
  SplitOptions split;
  ProfileOptions profiles;
  int knn_neighbours = 100;    // item-kNN recommender
  Weighting knn_weighting = Weighting::none;  // applied to train before item-item cosine
  double text_sharpness = 4.0;  // text recommender (RecommendModel::text_sharpness), with item text vectors
  std::string backend_name = "cpu";
  std::string out_dir;         // empty: write no files
  double load_seconds = 0.0;   // time the caller spent reading the data, for timings_s
  // The two parts of load, where the caller knows them (they may overlap: the CLI starts the
  // backend on its own thread while it reads): timings_s.steps load_data and backend_start.
  double load_data_seconds = -1.0;
  double backend_start_seconds = -1.0;
};

struct PipelineResult {
  nlohmann::json metrics;      // the metrics.json document (evaluation.md)
  Split split;
  Embeddings embeddings;
  SweepResult sweep;
  Groups groups;
  SavedModel model;
};

// Runs every phase on ctx's backend. truth: a group per user (-1 unknown) or empty.
// With out_dir set, writes metrics.json, groups.csv, groups.json, user_embeddings.npy,
// item_embeddings.npy and model.cohort there (each atomically).
PipelineResult run_pipeline(const Context& ctx, const Interactions& data, const ItemCatalog& catalog,
                            const std::vector<int32_t>& truth, const PipelineConfig& config);

}  // namespace cohort
