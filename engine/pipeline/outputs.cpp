#include "engine/pipeline/outputs.hpp"

#include <fmt/format.h>

#include "engine/io/files.hpp"

namespace cohort {
namespace {

nlohmann::json items_to_json(const std::vector<ItemScore>& items, const Interactions& data,
                             const ItemCatalog& catalog, const char* score_name) {
  nlohmann::json out = nlohmann::json::array();
  for (const ItemScore& s : items) {
    nlohmann::json item{{"item_id", data.item_ids[static_cast<size_t>(s.item)]},
                        {score_name, s.score},
                        {"support", s.support}};
    if (!catalog.empty() && !catalog.titles[static_cast<size_t>(s.item)].empty())
      item["title"] = catalog.titles[static_cast<size_t>(s.item)];
    out.push_back(std::move(item));
  }
  return out;
}

}  // namespace

SavedModel make_saved_model(const EmbedConfig& config, const Embeddings& embeddings, const Groups& groups,
                            const RecommendModel& recommend_model, const Interactions& data) {
  SavedModel model;
  model.config = config;
  model.embeddings = embeddings;
  model.groups_k = groups.k;
  model.centroids = groups.centroids;
  model.assignment = groups.assignment;
  model.confidence = groups.confidence;
  model.popularity = recommend_model.popularity;
  model.group_scores = recommend_model.group_scores;
  model.user_ids = data.user_ids;
  model.item_ids = data.item_ids;
  model.item_text = recommend_model.item_text;
  return model;
}

nlohmann::json groups_to_json(const Groups& groups, const Interactions& data, const ItemCatalog& catalog) {
  nlohmann::json list = nlohmann::json::array();
  for (const GroupProfile& p : groups.profiles) {
    nlohmann::json tags = nlohmann::json::array();
    for (const auto& [tag, lift] : p.top_tags) tags.push_back({{"tag", tag}, {"lift", lift}});
    list.push_back({{"group", p.group},
                    {"label", p.label},
                    {"size", p.size},
                    {"mean_activity", p.mean_activity},
                    {"median_activity", p.median_activity},
                    {"top_tags", tags},
                    {"top_items_by_lift", items_to_json(p.top_items_by_lift, data, catalog, "lift")},
                    {"items_near_centroid", items_to_json(p.items_near_centroid, data, catalog, "cosine")}});
    if (catalog.has_text())
      list.back()["items_near_text"] = items_to_json(p.items_near_text, data, catalog, "cosine");
  }
  return {{"k", groups.k}, {"groups", list}};
}

void write_groups_csv(const std::string& path, const Groups& groups, const std::vector<std::string>& user_ids) {
  write_file_atomically(path, [&](std::ostream& out) {
    out << "user_id,group,confidence\n";
    for (size_t u = 0; u < user_ids.size(); ++u)
      out << user_ids[u] << ',' << groups.assignment[u] << ',' << fmt::format("{:.4f}", groups.confidence[u]) << '\n';
  });
}

void write_pipeline_outputs(const std::string& dir, const Interactions& data, const ItemCatalog& catalog,
                            const PipelineResult& result) {
  make_directories(dir);
  write_groups_csv(dir + "/groups.csv", result.groups, data.user_ids);
  const nlohmann::json profiles = groups_to_json(result.groups, data, catalog);
  write_file_atomically(dir + "/groups.json", [&](std::ostream& out) { out << profiles.dump(2) << '\n'; });
  write_npy(dir + "/user_embeddings.npy", result.embeddings.users);
  write_npy(dir + "/item_embeddings.npy", result.embeddings.items);
  save_model(dir + "/model.cohort", result.model);
}

void write_metrics(const std::string& dir, const nlohmann::json& metrics) {
  make_directories(dir);
  write_file_atomically(dir + "/metrics.json", [&](std::ostream& out) { out << metrics.dump(2) << '\n'; });
}

}  // namespace cohort
