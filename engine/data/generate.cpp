#include "engine/data/generate.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <numeric>
#include <random>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/io/files.hpp"
#include "kernels/error.hpp"

namespace cohort {
namespace {

// Item-cluster names and a second tag that 2-3 neighbouring names share; the first 16 (the
// default cluster count) complete their families.
struct ClusterName {
  const char* name;
  const char* family;
};
constexpr ClusterName kClusterNames[] = {
    {"jazz", "music"},          {"blues", "music"},          {"classical", "music"},
    {"thriller", "suspense"},   {"horror", "suspense"},      {"crime", "suspense"},
    {"sci-fi", "speculative"},  {"fantasy", "speculative"},  {"cooking", "food"},
    {"baking", "food"},         {"travel", "outdoors"},      {"hiking", "outdoors"},
    {"gardening", "home"},      {"diy", "home"},             {"history", "nonfiction"},
    {"biography", "nonfiction"},{"football", "sport"},       {"cycling", "sport"},
    {"running", "sport"},       {"gaming", "pop-culture"},   {"anime", "pop-culture"},
    {"poetry", "literature"},   {"drama", "literature"},     {"science", "stem"},
    {"technology", "stem"},     {"photography", "art"},      {"painting", "art"},
    {"parenting", "lifestyle"}, {"wellness", "lifestyle"},   {"romance", "feel-good"},
    {"comedy", "feel-good"},    {"wine", "drinks"},          {"coffee", "drinks"},
};
constexpr int kNameCount = static_cast<int>(std::size(kClusterNames));

constexpr double kFavouriteMass = 0.78;     // share of a group's taste on its favourite clusters
constexpr double kActivitySigma = 0.8;      // log-normal sigma of interactions per user
constexpr int kMinInteractions = 5;
constexpr double kZipfExponent = 1.0;
constexpr double kUserTasteJitter = 0.25;   // per-user log-normal spread of favourite weights
constexpr int64_t kEpochStart = 1420070400; // 2015-01-01
constexpr int64_t kEpochSpan = 252460800;   // to 2023-01-01
constexpr double kMeanGapSeconds = 86400.0; // mean time between a user's interactions
// Item text vectors, standing in for a language model's embeddings of the items' text: each
// item near its cluster's direction, which leans toward its family's (the shared second tag).
constexpr int kTextDims = 32;
constexpr double kTextFamilyWeight = 0.6;   // a cluster's direction: this much of its family's
constexpr double kTextClusterWeight = 0.8;  // and this much of its own
constexpr double kTextItemNoise = 0.8;      // length of an item's own random part
constexpr uint64_t kTextSeedSalt = 0x7e57'7e57'7e57'7e57ull;  // a stream apart from the interactions'

// Explicit transforms of mt19937_64 output, so the data set depends only on the seed and
// not on the standard library's distribution implementations.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n): the high word of a 64 x 64-bit product.
  uint64_t below(uint64_t n) { return static_cast<uint64_t>((static_cast<unsigned __int128>(engine_()) * n) >> 64); }
  // Standard normal by Box-Muller (one value per call; the partner is discarded for simplicity).
  double normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }
  double exponential(double mean) { return -mean * std::log(1.0 - uniform()); }
  template <class T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }

 private:
  std::mt19937_64 engine_;
};

// Index drawn from a cumulative distribution (last entry = total mass) by inversion.
size_t draw(const std::vector<double>& cdf, Rng& rng) {
  const double x = rng.uniform() * cdf.back();
  const size_t at = static_cast<size_t>(std::upper_bound(cdf.begin(), cdf.end(), x) - cdf.begin());
  return std::min(at, cdf.size() - 1);
}

std::vector<double> cumulative(const std::vector<double>& weights) {
  std::vector<double> cdf(weights.size());
  std::partial_sum(weights.begin(), weights.end(), cdf.begin());
  return cdf;
}

void check_config(const GeneratorConfig& c) {
  COHORT_CHECK(c.users >= 2 && c.users <= INT32_MAX, "generator: users must be in 2..{}, got {}", INT32_MAX, c.users);
  COHORT_CHECK(c.items >= 2 && c.items <= INT32_MAX, "generator: items must be in 2..{}, got {}", INT32_MAX, c.items);
  COHORT_CHECK(c.groups >= 1, "generator: groups must be at least 1, got {}", c.groups);
  COHORT_CHECK(c.groups <= c.users, "generator: {} groups cannot be planted in {} users", c.groups, c.users);
  COHORT_CHECK(c.item_clusters >= 1, "generator: item_clusters must be at least 1, got {}", c.item_clusters);
  COHORT_CHECK(c.item_clusters <= c.items, "generator: {} item clusters cannot be made from {} items", c.item_clusters,
               c.items);
  COHORT_CHECK(std::isfinite(c.interactions_per_user) && c.interactions_per_user > 0.0,
               "generator: interactions_per_user must be positive, got {}", c.interactions_per_user);
  COHORT_CHECK(c.noise >= 0.0 && c.noise <= 1.0, "generator: noise must be in [0, 1], got {}", c.noise);
}

std::string cluster_name(int c) {
  const std::string base = kClusterNames[c % kNameCount].name;
  return c < kNameCount ? base : fmt::format("{}-{}", base, c / kNameCount + 1);
}

// Favourite clusters of each group, strongest first, as slots into a shuffled cluster order.
// With room for it (2 * groups <= clusters) every group owns two clusters and gets a third,
// exclusive while clusters last, else the next group's first (groups then share one cluster).
// Otherwise each group gets a distinct first cluster where possible and a second at a
// growing offset, so (first, second) pairs stay distinct while there are enough clusters.
std::vector<std::vector<int>> favourite_slots(int groups, int clusters) {
  std::vector<std::vector<int>> fav(static_cast<size_t>(groups));
  if (clusters == 1) {
    for (auto& f : fav) f = {0};
    return fav;
  }
  if (2 * groups <= clusters) {
    for (int g = 0; g < groups; ++g) {
      fav[g] = {2 * g, 2 * g + 1};
      if (clusters >= 3) {
        fav[g].push_back(2 * groups + g < clusters ? 2 * groups + g : (2 * g + 2) % (2 * groups));
      }
    }
    return fav;
  }
  for (int g = 0; g < groups; ++g) {
    const int first = g % clusters;
    const int offset = 1 + (g / clusters) % (clusters - 1);
    fav[g] = {first, (first + offset) % clusters};
  }
  return fav;
}

// Each group's taste: a distribution over item clusters (favourites, then a thin remainder).
struct Tastes {
  std::vector<std::vector<int>> favourites;  // per group: cluster ids, strongest first
  std::vector<std::vector<double>> weights;  // per group: favourite weights (sum kFavouriteMass or 1)
  std::vector<std::vector<double>> thin;     // per group: weight of every cluster outside its favourites
};

Tastes make_tastes(int groups, int clusters, Rng& rng) {
  std::vector<int> order(static_cast<size_t>(clusters));
  std::iota(order.begin(), order.end(), 0);
  rng.shuffle(order);
  Tastes t;
  for (const auto& slots : favourite_slots(groups, clusters)) {
    std::vector<int> fav;
    for (int s : slots) fav.push_back(order[s]);
    const bool has_rest = static_cast<int>(fav.size()) < clusters;
    const double mass = has_rest ? kFavouriteMass : 1.0;
    std::vector<double> w;
    if (fav.size() == 3) w = {0.42, 0.24, 0.12};
    else if (fav.size() == 2) w = {0.5, 0.28};
    else w = {0.78};
    for (double& x : w) x *= mass / kFavouriteMass;
    std::vector<double> thin(static_cast<size_t>(clusters), 0.0);
    if (has_rest) {
      double total = 0.0;
      for (int c = 0; c < clusters; ++c) {
        if (std::find(fav.begin(), fav.end(), c) != fav.end()) continue;
        thin[c] = 0.5 + rng.uniform();
        total += thin[c];
      }
      for (double& x : thin) x *= (1.0 - kFavouriteMass) / total;
    }
    t.favourites.push_back(std::move(fav));
    t.weights.push_back(std::move(w));
    t.thin.push_back(std::move(thin));
  }
  return t;
}

// Planted group sizes: equal shares jittered by up to +-10%, at least one user each,
// dealt out as a shuffled list of labels.
std::vector<int32_t> plant_groups(int64_t users, int groups, Rng& rng) {
  std::vector<double> share(static_cast<size_t>(groups));
  for (double& s : share) s = 0.9 + 0.2 * rng.uniform();
  const double total = std::accumulate(share.begin(), share.end(), 0.0);
  std::vector<int64_t> size(static_cast<size_t>(groups), 1);
  int64_t left = users - groups;
  const int64_t spread = left;
  for (int g = 0; g < groups; ++g) {
    const auto extra = std::min(left, static_cast<int64_t>(std::floor(static_cast<double>(spread) * share[g] / total)));
    size[g] += extra;
    left -= extra;
  }
  for (int g = 0; left > 0; g = (g + 1) % groups, --left) ++size[g];
  std::vector<int32_t> truth;
  truth.reserve(static_cast<size_t>(users));
  for (int g = 0; g < groups; ++g) truth.insert(truth.end(), static_cast<size_t>(size[g]), g);
  rng.shuffle(truth);
  return truth;
}

// One generated interaction before the CSR is built.
std::vector<double> random_direction(Rng& rng, int dims) {
  std::vector<double> v(static_cast<size_t>(dims));
  double norm = 0.0;
  for (double& x : v) {
    x = rng.normal();
    norm += x * x;
  }
  for (double& x : v) x /= std::sqrt(norm);
  return v;
}

// Unit text vectors for the items (kTextDims, above), from their own random stream so that the
// interactions do not depend on them.
Matrix text_vectors(const std::vector<int32_t>& item_cluster, int clusters, uint64_t seed) {
  Rng rng(seed ^ kTextSeedSalt);
  std::vector<std::vector<double>> family(static_cast<size_t>(kNameCount));
  for (auto& f : family) f = random_direction(rng, kTextDims);
  std::vector<std::vector<double>> direction(static_cast<size_t>(clusters));
  for (int c = 0; c < clusters; ++c) {
    // The family of a cluster's name, as its tags give it (names repeat past kNameCount).
    const char* fam = kClusterNames[c % kNameCount].family;
    int first = 0;
    while (std::string_view(kClusterNames[first].family) != fam) ++first;
    const std::vector<double> own = random_direction(rng, kTextDims);
    direction[static_cast<size_t>(c)].resize(kTextDims);
    for (int j = 0; j < kTextDims; ++j)
      direction[static_cast<size_t>(c)][static_cast<size_t>(j)] =
          kTextFamilyWeight * family[static_cast<size_t>(first)][static_cast<size_t>(j)] +
          kTextClusterWeight * own[static_cast<size_t>(j)];
  }
  const auto items = static_cast<int64_t>(item_cluster.size());
  Matrix out(items, kTextDims);
  const double noise_scale = kTextItemNoise / std::sqrt(static_cast<double>(kTextDims));
  for (int64_t i = 0; i < items; ++i) {
    const std::vector<double>& mu = direction[static_cast<size_t>(item_cluster[static_cast<size_t>(i)])];
    std::vector<double> v(kTextDims);
    double norm = 0.0;
    for (int j = 0; j < kTextDims; ++j) {
      v[static_cast<size_t>(j)] = mu[static_cast<size_t>(j)] + noise_scale * rng.normal();
      norm += v[static_cast<size_t>(j)] * v[static_cast<size_t>(j)];
    }
    for (int j = 0; j < kTextDims; ++j) out.row(i)[j] = static_cast<float>(v[static_cast<size_t>(j)] / std::sqrt(norm));
  }
  return out;
}

struct Event {
  int32_t item;
  float rating;
  int64_t timestamp;
};

}  // namespace

GeneratedData generate_dataset(const GeneratorConfig& config) {
  check_config(config);
  Rng rng(config.seed);
  const int64_t n_users = config.users;
  const int64_t n_items = config.items;
  const int clusters = config.item_clusters;

  // Items: a shuffled split into equal-ish clusters; Zipf popularity by rank inside a cluster.
  std::vector<int32_t> shuffled(static_cast<size_t>(n_items));
  std::iota(shuffled.begin(), shuffled.end(), 0);
  rng.shuffle(shuffled);
  std::vector<std::vector<int32_t>> members(static_cast<size_t>(clusters));
  std::vector<int32_t> item_cluster(static_cast<size_t>(n_items));
  std::vector<int32_t> item_rank(static_cast<size_t>(n_items));
  for (int64_t p = 0; p < n_items; ++p) {
    const auto c = static_cast<int32_t>(p * clusters / n_items);
    const int32_t item = shuffled[p];
    item_cluster[item] = c;
    item_rank[item] = static_cast<int32_t>(members[c].size());
    members[c].push_back(item);
  }
  std::vector<std::vector<double>> cluster_cdf(static_cast<size_t>(clusters));
  std::vector<double> global_weight(static_cast<size_t>(n_items));
  for (int c = 0; c < clusters; ++c) {
    std::vector<double> w(members[c].size());
    for (size_t r = 0; r < w.size(); ++r) w[r] = std::pow(static_cast<double>(r + 1), -kZipfExponent);
    const double total = std::accumulate(w.begin(), w.end(), 0.0);
    // Global popularity: every cluster equally popular overall, Zipf inside it.
    for (size_t r = 0; r < w.size(); ++r) global_weight[members[c][r]] = w[r] / total;
    cluster_cdf[c] = cumulative(w);
  }
  const std::vector<double> global_cdf = cumulative(global_weight);
  std::vector<double> item_bias(static_cast<size_t>(n_items));
  for (double& b : item_bias) b = 0.3 * rng.normal();

  const Tastes tastes = make_tastes(config.groups, clusters, rng);
  GeneratedData out;
  out.truth = plant_groups(n_users, config.groups, rng);

  const int64_t min_count = std::min<int64_t>(kMinInteractions, n_items);
  const int64_t max_count = std::max(min_count, n_items / 4);
  const double mu = std::log(config.interactions_per_user) - 0.5 * kActivitySigma * kActivitySigma;

  Csr& m = out.interactions.user_items;
  m = Csr::empty(n_users, n_items);
  m.indices.reserve(static_cast<size_t>(static_cast<double>(n_users) * config.interactions_per_user * 1.05));
  m.values.reserve(m.indices.capacity());
  auto& timestamps = out.interactions.timestamps;
  timestamps.reserve(m.indices.capacity());

  std::vector<int64_t> owner(static_cast<size_t>(n_items), -1);  // the last user who took the item
  std::vector<double> user_cdf(static_cast<size_t>(clusters));
  std::vector<char> is_favourite(static_cast<size_t>(clusters));
  std::vector<Event> events;
  for (int64_t u = 0; u < n_users; ++u) {
    const int g = out.truth[u];
    const auto& fav = tastes.favourites[g];
    // This user's taste: the group's, with its favourite weights jittered.
    std::vector<double> taste = tastes.thin[g];
    std::fill(is_favourite.begin(), is_favourite.end(), 0);
    double fav_total = 0.0, jittered_total = 0.0;
    std::vector<double> jittered(fav.size());
    for (size_t f = 0; f < fav.size(); ++f) {
      jittered[f] = tastes.weights[g][f] * std::exp(kUserTasteJitter * rng.normal());
      fav_total += tastes.weights[g][f];
      jittered_total += jittered[f];
    }
    for (size_t f = 0; f < fav.size(); ++f) {
      taste[fav[f]] = jittered[f] * fav_total / jittered_total;
      is_favourite[fav[f]] = 1;
    }
    std::partial_sum(taste.begin(), taste.end(), user_cdf.begin());

    const auto activity = static_cast<int64_t>(std::llround(std::exp(mu + kActivitySigma * rng.normal())));
    const int64_t count = std::clamp(activity, min_count, max_count);
    // Exactly floor or ceil of noise * count interactions are noise, at random positions.
    const double noise_target = config.noise * static_cast<double>(count);
    int64_t noise_left = static_cast<int64_t>(std::floor(noise_target + rng.uniform()));
    noise_left = std::min(noise_left, count);
    const double user_bias = 0.3 * rng.normal();
    int64_t t = kEpochStart + static_cast<int64_t>(rng.below(static_cast<uint64_t>(kEpochSpan)));

    events.clear();
    for (int64_t e = 0; e < count; ++e) {
      const bool noise = rng.uniform() * static_cast<double>(count - e) < static_cast<double>(noise_left);
      if (noise) --noise_left;
      int32_t item = -1;
      // Rejection sampling of an item this user does not have yet; a user whose tastes are
      // exhausted falls back to global popularity, then to the next free item.
      for (int attempt = 0; attempt < 64 && item < 0; ++attempt) {
        int32_t candidate;
        if (noise || attempt >= 32) {
          candidate = static_cast<int32_t>(draw(global_cdf, rng));
        } else {
          const size_t c = draw(user_cdf, rng);
          candidate = members[c][draw(cluster_cdf[c], rng)];
        }
        if (owner[candidate] != u) item = candidate;
      }
      if (item < 0) {
        auto start = static_cast<int32_t>(rng.below(static_cast<uint64_t>(n_items)));
        for (int64_t step = 0; step < n_items && item < 0; ++step) {
          const auto candidate = static_cast<int32_t>((start + step) % n_items);
          if (owner[candidate] != u) item = candidate;
        }
      }
      owner[item] = u;
      // Ratings: favourites liked most, the thin rest less, noise least.
      const double base = noise ? 2.6 : is_favourite[item_cluster[item]] ? 4.1 : 3.3;
      const double r = std::round(base + user_bias + item_bias[item] + 0.8 * rng.normal());
      t += 1 + static_cast<int64_t>(rng.exponential(kMeanGapSeconds));
      events.push_back({item, static_cast<float>(std::clamp(r, 1.0, 5.0)), t});
    }
    std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.item < b.item; });
    for (const Event& ev : events) {
      m.indices.push_back(ev.item);
      m.values.push_back(ev.rating);
      timestamps.push_back(ev.timestamp);
    }
    m.indptr[u + 1] = static_cast<int64_t>(m.indices.size());
  }

  auto& ids = out.interactions;
  ids.user_ids.resize(static_cast<size_t>(n_users));
  for (int64_t u = 0; u < n_users; ++u) ids.user_ids[u] = fmt::format("u{:05d}", u + 1);
  ids.item_ids.resize(static_cast<size_t>(n_items));
  out.catalog.titles.resize(static_cast<size_t>(n_items));
  out.catalog.tags.resize(static_cast<size_t>(n_items));
  for (int64_t i = 0; i < n_items; ++i) {
    const int c = item_cluster[i];
    ids.item_ids[i] = fmt::format("i{:05d}", i + 1);
    out.catalog.titles[i] = fmt::format("{} item {}", cluster_name(c), item_rank[i] + 1);
    out.catalog.tags[i] = {cluster_name(c), kClusterNames[c % kNameCount].family};
  }
  out.catalog.text_vectors = text_vectors(item_cluster, clusters, config.seed);
  out.catalog.items_with_text = n_items;
  return out;
}

void write_generated(const std::string& dir, const GeneratedData& data) {
  const Interactions& d = data.interactions;
  const Csr& m = d.user_items;
  COHORT_CHECK(static_cast<int64_t>(d.user_ids.size()) == m.rows && static_cast<int64_t>(d.item_ids.size()) == m.cols,
               "write_generated: {} user ids and {} item ids for a {} x {} matrix", d.user_ids.size(),
               d.item_ids.size(), m.rows, m.cols);
  COHORT_CHECK(d.timestamps.size() == m.indices.size(), "write_generated: {} timestamps for {} interactions",
               d.timestamps.size(), m.indices.size());
  COHORT_CHECK(data.truth.size() == d.user_ids.size(), "write_generated: {} truth labels for {} users",
               data.truth.size(), d.user_ids.size());
  COHORT_CHECK(data.catalog.titles.size() == d.item_ids.size() && data.catalog.tags.size() == d.item_ids.size(),
               "write_generated: catalog of {} titles and {} tag lists for {} items", data.catalog.titles.size(),
               data.catalog.tags.size(), d.item_ids.size());
  const std::string base = dir.empty() ? "./" : dir.back() == '/' ? dir : dir + "/";
  make_directories(base);

  write_file_atomically(base + "interactions.csv", [&](std::ostream& os) {
    fmt::memory_buffer buf;
    fmt::format_to(std::back_inserter(buf), "user_id,item_id,rating,timestamp\n");
    std::vector<int64_t> order;
    for (int64_t u = 0; u < m.rows; ++u) {
      // Each user's interactions in time order, as a log would hold them.
      order.resize(static_cast<size_t>(m.row_length(u)));
      std::iota(order.begin(), order.end(), m.indptr[u]);
      std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return d.timestamps[a] < d.timestamps[b]; });
      for (int64_t p : order) {
        fmt::format_to(std::back_inserter(buf), "{},{},{},{}\n", d.user_ids[u], d.item_ids[m.indices[p]],
                       m.values[p], d.timestamps[p]);
      }
      if (buf.size() > (1u << 20)) {
        os.write(buf.data(), static_cast<std::streamsize>(buf.size()));
        buf.clear();
      }
    }
    os.write(buf.data(), static_cast<std::streamsize>(buf.size()));
  });

  write_file_atomically(base + "items.csv", [&](std::ostream& os) {
    os << "item_id,title,tags\n";
    for (size_t i = 0; i < d.item_ids.size(); ++i) {
      os << d.item_ids[i] << ',' << data.catalog.titles[i] << ',' << fmt::format("{}", fmt::join(data.catalog.tags[i], "|"))
         << '\n';
    }
  });

  if (data.catalog.has_text()) {
    const Matrix& v = data.catalog.text_vectors;
    COHORT_CHECK(v.rows == static_cast<int64_t>(d.item_ids.size()), "write_generated: {} text vectors for {} items",
                 v.rows, d.item_ids.size());
    write_file_atomically(base + "item_text_vectors.csv", [&](std::ostream& os) {
      fmt::memory_buffer buf;
      fmt::format_to(std::back_inserter(buf), "item_id");
      for (int64_t j = 0; j < v.cols; ++j) fmt::format_to(std::back_inserter(buf), ",v{}", j + 1);
      buf.push_back('\n');
      for (int64_t i = 0; i < v.rows; ++i) {
        fmt::format_to(std::back_inserter(buf), "{}", d.item_ids[static_cast<size_t>(i)]);
        for (int64_t j = 0; j < v.cols; ++j) fmt::format_to(std::back_inserter(buf), ",{}", v.row(i)[j]);
        buf.push_back('\n');
      }
      os.write(buf.data(), static_cast<std::streamsize>(buf.size()));
    });
  }

  write_file_atomically(base + "truth.csv", [&](std::ostream& os) {
    os << "user_id,group\n";
    for (size_t u = 0; u < d.user_ids.size(); ++u) os << d.user_ids[u] << ',' << data.truth[u] << '\n';
  });
}

}  // namespace cohort
