// Groups of users: assignments with confidence, and a profile that explains each group.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/cluster/kmeans.hpp"
#include "engine/data/csr.hpp"
#include "engine/data/items.hpp"

namespace cohort {

struct ItemScore {
  int32_t item = 0;
  double score = 0.0;  // lift, or cosine to the centroid
  int64_t support = 0; // users of the group who have the item
};

struct GroupProfile {
  int group = 0;
  int64_t size = 0;
  std::vector<ItemScore> top_items_by_lift;    // lift = P(item | group) / P(item), support >= min
  std::vector<ItemScore> items_near_centroid;  // item factors nearest the centroid (cosine)
  // With item text vectors: the items whose text is nearest the group's text direction (the
  // mean of its users' interactions' vectors; cosine): what the group reads, watches, writes.
  std::vector<ItemScore> items_near_text;
  double mean_activity = 0.0;                  // interactions per user
  double median_activity = 0.0;
  std::vector<std::pair<std::string, double>> top_tags;  // tag, lift; when a catalog is given
  std::string label;                                     // the top tags joined, or top titles
};

struct Groups {
  int k = 0;
  Matrix centroids;                // k x d, in the clustered space
  std::vector<int32_t> assignment; // per user; -1 for users not clustered (cold)
  std::vector<float> confidence;   // per user in [0, 1]: 1 - nearest/second distance
  std::vector<GroupProfile> profiles;
};

struct ProfileOptions {
  int top_items = 10;   // items by lift, items near the centroid, and tags kept per group
  int min_support = 5;  // users of the group with the item; interactions of the group with the tag
};

// Builds Groups from a clustering of the rows `users` (indices into train's rows).
// item_factors: items x d in the same space as the centroids (for items near the centroid),
// or 0 x 0 to skip them. Probabilities in the lifts are over the clustered users and their
// train interactions. catalog: empty, or aligned with train's columns.
Groups build_groups(const KMeansSolution& solution, const std::vector<int32_t>& users, int64_t total_users,
                    const Csr& train, const Matrix& item_factors, const ItemCatalog& catalog,
                    const ProfileOptions& options);

// The nearest group of each row of x (normalised like the clustered rows), with confidence.
void assign_to_groups(const Matrix& centroids, const Matrix& x, std::vector<int32_t>& group,
                      std::vector<float>& confidence);

}  // namespace cohort
