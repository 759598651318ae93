// model.cohort: a trained model (embeddings, groups, id maps) that `recommend`, `groups` and
// the C API load back. Binary: magic "COHORTMD", version, sections, FNV-1a checksum; a
// foreign, truncated or corrupted file is Error(bad_input) naming the file.
#pragma once

#include <string>
#include <vector>

#include "engine/embed/embed.hpp"
#include "engine/groups/groups.hpp"

namespace cohort {

struct SavedModel {
  EmbedConfig config;
  Embeddings embeddings;
  int groups_k = 0;                 // 0 when no groups were discovered
  Matrix centroids;                 // groups_k x factors (normalised user-embedding space)
  std::vector<int32_t> assignment;  // per user, -1 = none
  std::vector<float> confidence;    // per user
  std::vector<float> popularity;    // per item, scaled to max 1 (fallback recommender)
  Matrix group_scores;              // groups_k x items (group recommender)
  std::vector<std::string> user_ids;
  std::vector<std::string> item_ids;
  Matrix item_text;                 // items x d unit rows (zero: no text), or empty (version 2 on)
};

// Written to a temporary name and renamed, as version 2; version 1 files (without item text)
// still load.
void save_model(const std::string& path, const SavedModel& model);
SavedModel load_model(const std::string& path);

}  // namespace cohort
