// The built-in realistic data set: planted user groups with their own tastes over item
// clusters, Zipf item popularity, log-normal user activity, noise, timestamps.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/data/interactions.hpp"
#include "engine/data/items.hpp"

namespace cohort {

struct GeneratorConfig {
  int64_t users = 20000;
  int64_t items = 5000;
  int groups = 8;
  int item_clusters = 16;
  double interactions_per_user = 50.0;  // mean of the log-normal activity
  double noise = 0.10;                   // fraction of interactions drawn from global popularity
  uint64_t seed = 42;
};

struct GeneratedData {
  Interactions interactions;      // values: ratings 1..5; timestamps increasing per user
  ItemCatalog catalog;            // titles and tags that name each item's cluster; text vectors
  std::vector<int32_t> truth;     // planted group per user
};

GeneratedData generate_dataset(const GeneratorConfig& config);
// Writes interactions.csv (user_id,item_id,rating,timestamp with header), items.csv
// (item_id,title,tags), item_text_vectors.csv (item_id,v1,...,vd) and truth.csv
// (user_id,group) into dir (created if missing).
void write_generated(const std::string& dir, const GeneratedData& data);

}  // namespace cohort
