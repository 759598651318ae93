#include "engine/groups/groups.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <map>
#include <numeric>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/data/rows.hpp"
#include "kernels/error.hpp"

namespace cohort {
namespace {

constexpr size_t kLabelParts = 3;

// 1 - nearest / second-nearest Euclidean distance, from squared distances: 0 on a boundary
// between two groups, 1 at a centroid. With one group every row belongs to it fully.
float confidence_of(double best_sq, double second_sq, int64_t k) {
  if (k == 1) return 1.0f;
  if (!(second_sq > 0.0)) return 0.0f;
  const double c = 1.0 - std::sqrt(std::max(0.0, best_sq) / second_sq);
  return static_cast<float>(std::clamp(c, 0.0, 1.0));
}

// Descending score, then descending support, then ascending item.
bool ranks_before(const ItemScore& a, const ItemScore& b) {
  if (a.score != b.score) return a.score > b.score;
  if (a.support != b.support) return a.support > b.support;
  return a.item < b.item;
}

double median(std::vector<int64_t> values) {
  if (values.empty()) return 0.0;
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid), values.end());
  const double upper = static_cast<double>(values[mid]);
  if (values.size() % 2 == 1) return upper;
  const double lower = static_cast<double>(*std::max_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid)));
  return (lower + upper) / 2.0;
}

void validate(const KMeansSolution& solution, const std::vector<int32_t>& users, int64_t total_users,
              const Csr& train, const Matrix& item_factors, const ItemCatalog& catalog,
              const ProfileOptions& options) {
  const int k = solution.k;
  const size_t n = users.size();
  COHORT_CHECK(k >= 1, "build_groups: k = {}; it must be >= 1", k);
  COHORT_CHECK(solution.centroids.rows == k && solution.centroids.cols >= 1,
               "build_groups: centroids are {} x {} for k = {}", solution.centroids.rows, solution.centroids.cols, k);
  COHORT_CHECK(solution.labels.size() == n && solution.distance.size() == n && solution.margin.size() == n,
               "build_groups: {} users but {} labels, {} distances and {} margins", n, solution.labels.size(),
               solution.distance.size(), solution.margin.size());
  COHORT_CHECK(total_users >= 0 && total_users <= train.rows, "build_groups: {} users, but train has {} rows",
               total_users, train.rows);
  std::vector<char> seen(static_cast<size_t>(total_users), 0);
  for (size_t i = 0; i < n; ++i) {
    const int32_t u = users[i];
    COHORT_CHECK(u >= 0 && u < total_users, "build_groups: user {} (entry {}) is outside [0, {})", u, i, total_users);
    COHORT_CHECK(!seen[u], "build_groups: user {} is listed twice", u);
    seen[u] = 1;
    COHORT_CHECK(solution.labels[i] >= 0 && solution.labels[i] < k, "build_groups: label {} of user {} is outside [0, {})",
                 solution.labels[i], u, k);
  }
  COHORT_CHECK(item_factors.rows == 0 || (item_factors.rows == train.cols && item_factors.cols == solution.centroids.cols),
               "build_groups: item factors are {} x {}; expected {} x {} (items x centroid columns)", item_factors.rows,
               item_factors.cols, train.cols, solution.centroids.cols);
  COHORT_CHECK(catalog.empty() || static_cast<int64_t>(catalog.titles.size()) == train.cols,
               "build_groups: the catalog has {} items, train {}", catalog.titles.size(), train.cols);
  COHORT_CHECK(catalog.tags.empty() || catalog.tags.size() == catalog.titles.size(),
               "build_groups: the catalog has {} titles but {} tag lists", catalog.titles.size(), catalog.tags.size());
  COHORT_CHECK(options.top_items >= 0 && options.min_support >= 0,
               "build_groups: top_items = {} and min_support = {} must be >= 0", options.top_items, options.min_support);
}

// Items whose factors point closest to each centroid (cosine), top `count` per group.
// The `count` items nearest (cosine) each direction of `centroids`, written to
// profiles[g].*field.
void items_near_centroids(const Matrix& centroids, const Matrix& item_factors, int count,
                          const std::vector<int64_t>& support, std::vector<GroupProfile>& profiles,
                          std::vector<ItemScore> GroupProfile::*field) {
  const Matrix items = normalized_rows(item_factors);
  const Matrix unit_centroids = normalized_rows(centroids);
  const int64_t num_items = items.rows;
  const int64_t d = items.cols;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t g = 0; g < centroids.rows; ++g) {
    std::vector<ItemScore> scores(static_cast<size_t>(num_items));
    for (int64_t i = 0; i < num_items; ++i) {
      double dot = 0.0;
      for (int64_t j = 0; j < d; ++j) dot += static_cast<double>(items.row(i)[j]) * unit_centroids.row(g)[j];
      scores[i] = {static_cast<int32_t>(i), dot, support[g * num_items + i]};
    }
    const auto keep = static_cast<std::ptrdiff_t>(std::min<int64_t>(count, num_items));
    std::partial_sort(scores.begin(), scores.begin() + keep, scores.end(), [](const ItemScore& a, const ItemScore& b) {
      return a.score != b.score ? a.score > b.score : a.item < b.item;
    });
    scores.resize(static_cast<size_t>(keep));
    profiles[g].*field = std::move(scores);
  }
}

}  // namespace

Groups build_groups(const KMeansSolution& solution, const std::vector<int32_t>& users, int64_t total_users,
                    const Csr& train, const Matrix& item_factors, const ItemCatalog& catalog,
                    const ProfileOptions& options) {
  validate(solution, users, total_users, train, item_factors, catalog, options);
  const int k = solution.k;
  const int64_t num_items = train.cols;
  const int64_t min_support = std::max(1, options.min_support);

  Groups groups;
  groups.k = k;
  groups.centroids = solution.centroids;
  groups.assignment.assign(static_cast<size_t>(total_users), -1);
  groups.confidence.assign(static_cast<size_t>(total_users), 0.0f);
  groups.profiles.resize(static_cast<size_t>(k));
  for (int g = 0; g < k; ++g) groups.profiles[g].group = g;

  // Counts over the clustered users, the population the groups partition: users per item
  // (support) and interactions per tag, overall and per group.
  std::vector<int64_t> support(static_cast<size_t>(k * num_items), 0);
  std::vector<int64_t> item_users(static_cast<size_t>(num_items), 0);
  std::vector<std::vector<int64_t>> activity(static_cast<size_t>(k));
  const bool has_tags = !catalog.empty() && !catalog.tags.empty();
  std::map<std::string, int32_t> tag_index;
  std::vector<std::string> tag_names;
  std::vector<std::vector<int32_t>> item_tags(has_tags ? static_cast<size_t>(num_items) : 0);
  if (has_tags)
    for (int64_t i = 0; i < num_items; ++i)
      for (const std::string& tag : catalog.tags[i]) {
        auto [it, added] = tag_index.emplace(tag, static_cast<int32_t>(tag_names.size()));
        if (added) tag_names.push_back(tag);
        item_tags[i].push_back(it->second);
      }
  const int64_t num_tags = static_cast<int64_t>(tag_names.size());
  std::vector<int64_t> group_tag(static_cast<size_t>(k * num_tags), 0);
  std::vector<int64_t> tag_total(static_cast<size_t>(num_tags), 0);
  std::vector<int64_t> group_interactions(static_cast<size_t>(k), 0);
  int64_t total_interactions = 0;

  for (size_t i = 0; i < users.size(); ++i) {
    const int32_t u = users[i];
    const int32_t g = solution.labels[i];
    groups.assignment[u] = g;
    groups.confidence[u] = confidence_of(solution.distance[i], static_cast<double>(solution.distance[i]) + solution.margin[i], k);
    ++groups.profiles[g].size;
    activity[g].push_back(train.row_length(u));
    group_interactions[g] += train.row_length(u);
    total_interactions += train.row_length(u);
    for (int64_t p = train.indptr[u]; p < train.indptr[u + 1]; ++p) {
      const int32_t item = train.indices[p];
      ++support[g * num_items + item];
      ++item_users[item];
      if (has_tags)
        for (int32_t t : item_tags[item]) {
          ++group_tag[g * num_tags + t];
          ++tag_total[t];
        }
    }
  }

  const double population = static_cast<double>(users.size());
  for (int g = 0; g < k; ++g) {
    GroupProfile& profile = groups.profiles[g];
    if (!activity[g].empty()) {
      profile.mean_activity = static_cast<double>(group_interactions[g]) / static_cast<double>(activity[g].size());
      profile.median_activity = median(activity[g]);
    }

    // lift = P(item | group) / P(item) = (support / size) / (item_users / population).
    std::vector<ItemScore> by_lift;
    for (int64_t i = 0; i < num_items; ++i) {
      const int64_t s = support[g * num_items + i];
      if (s < min_support) continue;
      const double lift = (static_cast<double>(s) / static_cast<double>(profile.size)) /
                          (static_cast<double>(item_users[i]) / population);
      by_lift.push_back({static_cast<int32_t>(i), lift, s});
    }
    std::sort(by_lift.begin(), by_lift.end(), ranks_before);
    profile.top_items_by_lift.assign(by_lift.begin(),
                                     by_lift.begin() + std::min<std::ptrdiff_t>(options.top_items, std::ssize(by_lift)));

    // Tag lift = (tag's share of the group's interactions) / (its share of all interactions).
    std::vector<std::pair<std::string, double>> tags;
    std::vector<int64_t> tag_count;
    for (int64_t t = 0; t < num_tags; ++t) {
      const int64_t c = group_tag[g * num_tags + t];
      if (c < min_support) continue;
      const double lift = (static_cast<double>(c) / static_cast<double>(group_interactions[g])) /
                          (static_cast<double>(tag_total[t]) / static_cast<double>(total_interactions));
      tags.emplace_back(tag_names[t], lift);
      tag_count.push_back(c);
    }
    std::vector<size_t> order(tags.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      if (tags[a].second != tags[b].second) return tags[a].second > tags[b].second;
      if (tag_count[a] != tag_count[b]) return tag_count[a] > tag_count[b];
      return tags[a].first < tags[b].first;
    });
    for (size_t r = 0; r < order.size() && static_cast<int>(r) < options.top_items; ++r)
      profile.top_tags.push_back(tags[order[r]]);

    // Label: the top tags, else the titles of the items with the highest lift, else a number.
    std::vector<std::string> parts;
    for (size_t r = 0; r < order.size() && parts.size() < kLabelParts; ++r) parts.push_back(tags[order[r]].first);
    if (parts.empty() && !catalog.empty())
      for (const ItemScore& s : by_lift) {
        if (parts.size() == kLabelParts) break;
        if (!catalog.titles[s.item].empty()) parts.push_back(catalog.titles[s.item]);
      }
    profile.label = parts.empty() ? fmt::format("group {}", g) : fmt::format("{}", fmt::join(parts, ", "));
  }

  if (item_factors.rows > 0 && options.top_items > 0)
    items_near_centroids(solution.centroids, item_factors, options.top_items, support, groups.profiles,
                         &GroupProfile::items_near_centroid);
  if (catalog.has_text() && options.top_items > 0) {
    // Each group's text direction: the sum of its users' items' vectors (items_near_centroids normalises).
    const Matrix& text = catalog.text_vectors;
    COHORT_CHECK(text.rows == num_items, "build_groups: {} item text vectors for {} items", text.rows, num_items);
    Matrix direction(k, text.cols);
    for (int g = 0; g < k; ++g)
      for (int64_t i = 0; i < num_items; ++i) {
        const auto s = static_cast<float>(support[g * num_items + i]);
        if (s == 0.0f) continue;
        for (int64_t j = 0; j < text.cols; ++j) direction.row(g)[j] += s * text.row(i)[j];
      }
    items_near_centroids(direction, text, options.top_items, support, groups.profiles, &GroupProfile::items_near_text);
  }
  return groups;
}

void assign_to_groups(const Matrix& centroids, const Matrix& x, std::vector<int32_t>& group,
                      std::vector<float>& confidence) {
  COHORT_CHECK(centroids.rows >= 1 && centroids.cols >= 1 &&
                   static_cast<int64_t>(centroids.data.size()) == centroids.rows * centroids.cols,
               "assign_to_groups: centroids are {} x {}", centroids.rows, centroids.cols);
  COHORT_CHECK(x.rows == 0 || x.cols == centroids.cols, "assign_to_groups: rows have {} columns, centroids {}", x.cols,
               centroids.cols);
  COHORT_CHECK(static_cast<int64_t>(x.data.size()) == x.rows * x.cols, "assign_to_groups: x is {} x {} with {} values",
               x.rows, x.cols, x.data.size());
  for (size_t i = 0; i < x.data.size(); ++i)
    COHORT_CHECK_STATUS(std::isfinite(x.data[i]), Status::bad_input, "assign_to_groups: x({}, {}) = {} is not finite",
                        static_cast<int64_t>(i) / x.cols, static_cast<int64_t>(i) % x.cols, x.data[i]);
  const int64_t k = centroids.rows;
  group.assign(static_cast<size_t>(x.rows), 0);
  confidence.assign(static_cast<size_t>(x.rows), 0.0f);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < x.rows; ++i) {
    double best = std::numeric_limits<double>::infinity();
    double second = std::numeric_limits<double>::infinity();
    int32_t nearest = 0;
    for (int64_t c = 0; c < k; ++c) {
      double dist = 0.0;
      for (int64_t j = 0; j < x.cols; ++j) {
        const double diff = static_cast<double>(x.row(i)[j]) - centroids.row(c)[j];
        dist += diff * diff;
      }
      if (dist < best) {
        second = best;
        best = dist;
        nearest = static_cast<int32_t>(c);
      } else if (dist < second) {
        second = dist;
      }
    }
    group[i] = nearest;
    confidence[i] = confidence_of(best, second, k);
  }
}

}  // namespace cohort
