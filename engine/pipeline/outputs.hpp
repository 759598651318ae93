// The files a pipeline run writes: groups.csv, groups.json, embeddings, model, metrics.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "engine/pipeline/pipeline.hpp"
#include "engine/recommend/recommend.hpp"

namespace cohort {

SavedModel make_saved_model(const EmbedConfig& config, const Embeddings& embeddings, const Groups& groups,
                            const RecommendModel& recommend_model, const Interactions& data);

// groups.json: every group's profile with item ids and titles, for people to read.
nlohmann::json groups_to_json(const Groups& groups, const Interactions& data, const ItemCatalog& catalog);

// groups.csv, groups.json, user_embeddings.npy, item_embeddings.npy and model.cohort in dir,
// each written atomically.
void write_pipeline_outputs(const std::string& dir, const Interactions& data, const ItemCatalog& catalog,
                            const PipelineResult& result);
// metrics.json, written atomically.
void write_metrics(const std::string& dir, const nlohmann::json& metrics);
// groups.csv alone: user_id,group,confidence.
void write_groups_csv(const std::string& path, const Groups& groups, const std::vector<std::string>& user_ids);

}  // namespace cohort
