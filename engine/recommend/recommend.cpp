#include "engine/recommend/recommend.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/comm/gather.hpp"
#include "engine/comm/shard_plan.hpp"
#include "engine/data/rows.hpp"
#include "kernels/buffer.hpp"
#include "kernels/error.hpp"

namespace cohort {
namespace {

// Users scored per backend call: bounds the per-block inputs and the top-k outputs, and what
// a backend may hold while scoring (a CUDA tile of users x items).
constexpr int64_t kScoreBlockRows = 2048;
// The embedding and blend recommenders share a block's dot products (recommend_many) when a
// block of them stays this small: on the host they must stay in cache between the two
// readers (at 256 MB a block, the 10x data set's evaluation ran 25% slower than computing
// them twice, each pass going to memory; at 32 MB the blocks were too small to pay for the
// per-call work); on a device memory is no concern.
constexpr int64_t kSharedDotsHostFloats = int64_t{16} << 20;
constexpr int64_t kSharedDotsDeviceFloats = int64_t{64} << 20;
// Items whose neighbours are found per topk_cosine call.
constexpr int64_t kKnnBlockRows = 4096;
// The text recommender's popularity term is log(popularity + this): items nobody has taken yet
// (popularity 0) stay reachable by their text, 7 units of log below the most popular item.
constexpr double kTextPopularityFloor = 1e-3;

// Rows [begin, end) of a host Csr, copied into the backend's memory.
struct BackendCsr {
  int64_t rows = 0;
  int64_t cols = 0;
  Buffer<int64_t> indptr;
  Buffer<int32_t> indices;
  Buffer<float> values;

  BackendCsr(Backend& backend, const Csr& m, int64_t begin, int64_t end) : rows(end - begin), cols(m.cols) {
    const int64_t first = m.indptr[begin];
    const int64_t last = m.indptr[end];
    std::vector<int64_t> ptr(m.indptr.begin() + begin, m.indptr.begin() + end + 1);
    for (auto& p : ptr) p -= first;
    indptr = Buffer<int64_t>(backend, ptr);
    indices = Buffer<int32_t>(backend, std::vector<int32_t>(m.indices.begin() + first, m.indices.begin() + last));
    values = Buffer<float>(backend, std::vector<float>(m.values.begin() + first, m.values.begin() + last));
  }
  CsrView view() const { return {rows, cols, indices.size(), indptr.data(), indices.data(), values.data()}; }
};

void check_csr(const Csr& m, const char* what) {
  COHORT_CHECK(m.rows >= 0 && m.cols >= 0 && static_cast<int64_t>(m.indptr.size()) == m.rows + 1 &&
                   m.indptr.front() == 0 && m.indptr.back() == m.nnz() && m.values.size() == m.indices.size(),
               "{}: inconsistent CSR ({} x {}, {} indptr entries, {} indices, {} values)", what, m.rows, m.cols,
               m.indptr.size(), m.indices.size(), m.values.size());
  for (int64_t r = 0; r < m.rows; ++r) {
    COHORT_CHECK(m.indptr[r] <= m.indptr[r + 1], "{}: indptr decreases at row {}", what, r);
    for (int64_t p = m.indptr[r]; p < m.indptr[r + 1]; ++p)
      COHORT_CHECK(m.indices[p] >= 0 && m.indices[p] < m.cols, "{}: row {} has column {} outside [0, {})", what, r,
                   m.indices[p], m.cols);
  }
}

void scale_to_max_one(float* v, int64_t n) {
  const float top = n > 0 ? *std::max_element(v, v + n) : 0.0f;
  if (top > 0.0f)
    for (int64_t i = 0; i < n; ++i) v[i] /= top;
}

template <class T>
std::vector<T> slice(const std::vector<T>& v, int64_t begin, int64_t end) {
  return std::vector<T>(v.begin() + begin, v.begin() + end);
}

void check_queries(RecommenderKind kind, const RecommendModel& model, const Queries& queries, int k) {
  const int64_t q = queries.seen.rows;
  COHORT_CHECK(k >= 1, "recommend: k must be >= 1, got {}", k);
  check_csr(queries.seen, "recommend: queries.seen");
  COHORT_CHECK(queries.seen.cols == model.items, "recommend: queries.seen has {} items, the model {}",
               queries.seen.cols, model.items);
  const bool uses_popularity = kind == RecommenderKind::popularity || kind == RecommenderKind::group ||
                               kind == RecommenderKind::blend || kind == RecommenderKind::text;
  COHORT_CHECK(!uses_popularity || static_cast<int64_t>(model.popularity.size()) == model.items,
               "recommend: the model's popularity has {} entries for {} items", model.popularity.size(), model.items);
  if (kind == RecommenderKind::embedding || kind == RecommenderKind::blend) {
    const Matrix& y = model.item_factors;
    COHORT_CHECK(y.rows == model.items && y.cols >= 1, "recommend {}: the model's item factors are {} x {} for {} items",
                 recommender_kind_name(kind), y.rows, y.cols, model.items);
    COHORT_CHECK(queries.factors.rows == q && queries.factors.cols == y.cols,
                 "recommend {}: {} query users with factors {} x {}; item factors have {} columns",
                 recommender_kind_name(kind), q, queries.factors.rows, queries.factors.cols, y.cols);
    COHORT_CHECK(static_cast<int64_t>(queries.factors.data.size()) == q * y.cols &&
                     static_cast<int64_t>(y.data.size()) == y.rows * y.cols,
                 "recommend {}: factor matrices hold fewer values than their shapes say", recommender_kind_name(kind));
  }
  if (kind == RecommenderKind::blend)
    COHORT_CHECK(model.blend_pivot > 0.0 && std::isfinite(model.blend_pivot),
                 "recommend blend: blend_pivot must be finite and > 0, got {}", model.blend_pivot);
  if (kind == RecommenderKind::group || kind == RecommenderKind::blend) {
    const Matrix& g = model.group_scores;
    COHORT_CHECK(g.rows == 0 || g.cols == model.items, "recommend: group scores are {} x {} for {} items", g.rows,
                 g.cols, model.items);
    COHORT_CHECK(static_cast<int64_t>(queries.group.size()) == q, "recommend {}: {} query users, {} groups given",
                 recommender_kind_name(kind), q, queries.group.size());
    for (size_t u = 0; u < queries.group.size(); ++u)
      COHORT_CHECK(queries.group[u] >= -1 && queries.group[u] < g.rows,
                   "recommend: query user {} has group {}; the model has {} groups", u, queries.group[u], g.rows);
  }
  if (kind == RecommenderKind::text) {
    const Matrix& v = model.item_text;
    COHORT_CHECK(v.rows == model.items && v.cols >= 1 && static_cast<int64_t>(v.data.size()) == v.rows * v.cols,
                 "recommend text: the model's item text vectors are {} x {} for {} items (none were given?)", v.rows,
                 v.cols, model.items);
    const Matrix& p = queries.text_profiles;
    COHORT_CHECK(p.rows == q && p.cols == v.cols && static_cast<int64_t>(p.data.size()) == q * v.cols,
                 "recommend text: {} query users with text profiles {} x {}; item text vectors have {} columns", q,
                 p.rows, p.cols, v.cols);
    COHORT_CHECK(model.text_sharpness >= 0.0 && std::isfinite(model.text_sharpness),
                 "recommend text: text_sharpness must be finite and >= 0, got {}", model.text_sharpness);
  }
  if (kind == RecommenderKind::item_knn) {
    const size_t cells = static_cast<size_t>(model.items) * static_cast<size_t>(std::max(model.knn_neighbours, 0));
    COHORT_CHECK(model.knn_neighbours >= 1 && model.knn_index.size() == cells && model.knn_score.size() == cells,
                 "recommend item_knn: the model has no item neighbours (fit_item_knn first): {} neighbours, "
                 "{} indices, {} scores for {} items",
                 model.knn_neighbours, model.knn_index.size(), model.knn_score.size(), model.items);
  }
}

// group_scores with the popularity row appended as row G, the fallback of users without a group.
std::vector<float> groups_with_popularity(const RecommendModel& model) {
  std::vector<float> out(model.group_scores.data);
  out.insert(out.end(), model.popularity.begin(), model.popularity.end());
  return out;
}

}  // namespace

RecommenderKind parse_recommender_kind(const std::string& name) {
  if (name == "popularity") return RecommenderKind::popularity;
  if (name == "embedding" || name == "als" || name == "bpr" || name == "mf") return RecommenderKind::embedding;
  if (name == "group") return RecommenderKind::group;
  if (name == "blend") return RecommenderKind::blend;
  if (name == "item_knn") return RecommenderKind::item_knn;
  if (name == "text") return RecommenderKind::text;
  COHORT_FAIL(Status::invalid_argument,
              "unknown recommender '{}': expected popularity, embedding (als, bpr, mf), group, blend, item_knn or text",
              name);
}

const char* recommender_kind_name(RecommenderKind kind) {
  switch (kind) {
    case RecommenderKind::popularity: return "popularity";
    case RecommenderKind::embedding: return "embedding";
    case RecommenderKind::group: return "group";
    case RecommenderKind::blend: return "blend";
    case RecommenderKind::item_knn: return "item_knn";
    case RecommenderKind::text: return "text";
  }
  return "unknown";
}

RecommendModel build_recommend_model(const Csr& train, const std::vector<int32_t>& user_group, int groups) {
  check_csr(train, "build_recommend_model: train");
  COHORT_CHECK(groups >= 0, "build_recommend_model: groups must be >= 0, got {}", groups);
  COHORT_CHECK(static_cast<int64_t>(user_group.size()) == train.rows,
               "build_recommend_model: {} user groups for {} users", user_group.size(), train.rows);
  RecommendModel model;
  model.items = train.cols;
  model.popularity.assign(static_cast<size_t>(train.cols), 0.0f);
  model.group_scores = Matrix(groups, train.cols);
  std::vector<int64_t> group_size(static_cast<size_t>(groups), 0);
  for (int64_t u = 0; u < train.rows; ++u) {
    const int32_t g = user_group[static_cast<size_t>(u)];
    COHORT_CHECK(g >= -1 && g < groups, "build_recommend_model: user {} has group {}; expected -1 or [0, {})", u, g,
                 groups);
    if (g >= 0) ++group_size[static_cast<size_t>(g)];
    for (int64_t p = train.indptr[u]; p < train.indptr[u + 1]; ++p) {
      model.popularity[static_cast<size_t>(train.indices[p])] += 1.0f;
      if (g >= 0) model.group_scores.row(g)[train.indices[p]] += 1.0f;
    }
  }
  scale_to_max_one(model.popularity.data(), train.cols);
  // Share of the group's users who have the item; the division by the group's size cancels
  // in the scaling to max 1 but keeps the intermediate meaning plain.
  for (int g = 0; g < groups; ++g) {
    float* row = model.group_scores.row(g);
    if (group_size[static_cast<size_t>(g)] > 0)
      for (int64_t i = 0; i < train.cols; ++i) row[i] /= static_cast<float>(group_size[static_cast<size_t>(g)]);
    scale_to_max_one(row, train.cols);
  }
  return model;
}

void fit_item_knn(const Context& ctx, const Csr& train, int neighbours, RecommendModel& model) {
  check_csr(train, "fit_item_knn: train");
  COHORT_CHECK(neighbours >= 1, "fit_item_knn: neighbours must be >= 1, got {}", neighbours);
  COHORT_CHECK(model.items == train.cols, "fit_item_knn: train has {} items, the model {}", train.cols, model.items);
  Backend& backend = ctx.backend;
  const int64_t items = train.cols;
  const Csr item_users = train.transpose();
  const BackendCsr a(backend, item_users, 0, item_users.rows);  // items x users
  const BackendCsr a_t(backend, train, 0, train.rows);         // users x items
  model.knn_neighbours = neighbours;
  // SPMD: each rank finds the neighbours of its block of items (balanced by their users),
  // then the blocks are gathered.
  const RowBlock mine = plan_row_blocks(item_users.indptr, ctx.comm.size())[static_cast<size_t>(ctx.comm.rank())];
  std::vector<int32_t> knn_index(static_cast<size_t>(mine.rows() * neighbours), -1);
  std::vector<float> knn_score(static_cast<size_t>(mine.rows() * neighbours), 0.0f);
  for (int64_t begin = mine.begin; begin < mine.end; begin += kKnnBlockRows) {
    const int64_t end = std::min(mine.end, begin + kKnnBlockRows);
    Buffer<int32_t> index(backend, (end - begin) * neighbours);
    Buffer<float> score(backend, (end - begin) * neighbours);
    backend.topk_cosine(a.view(), a_t.view(), begin, end, neighbours, true, index.data(), score.data());
    const auto host_index = index.to_host();
    const auto host_score = score.to_host();
    const int64_t at = (begin - mine.begin) * neighbours;
    std::copy(host_index.begin(), host_index.end(), knn_index.begin() + at);
    std::copy(host_score.begin(), host_score.end(), knn_score.begin() + at);
  }
  model.knn_index = allgather_rows(ctx.comm, knn_index);
  model.knn_score = allgather_rows(ctx.comm, knn_score);
  COHORT_CHECK_STATUS(static_cast<int64_t>(model.knn_index.size()) == items * neighbours, Status::internal,
                      "fit_item_knn: gathered {} neighbours for {} items x {}", model.knn_index.size(), items,
                      neighbours);
}

namespace {

// Rows [block.begin, block.end) of every part of the queries.
Queries query_rows(const Queries& q, const RowBlock& block) {
  Queries out;
  out.seen = row_range(q.seen, block.begin, block.end);
  if (q.factors.rows > 0) out.factors = row_range(q.factors, block.begin, block.end);
  if (!q.group.empty()) out.group.assign(q.group.begin() + block.begin, q.group.begin() + block.end);
  if (q.text_profiles.rows > 0) out.text_profiles = row_range(q.text_profiles, block.begin, block.end);
  return out;
}

// recommend_many on this backend alone, for every query.
std::vector<TopK> recommend_queries(const Context& ctx, const std::vector<RecommenderKind>& kinds,
                                    const RecommendModel& model, const Queries& queries, int k) {
  Backend& backend = ctx.backend;
  const int64_t q = queries.seen.rows;
  const int64_t items = model.items;
  std::vector<TopK> out(kinds.size());
  for (TopK& t : out) {
    t.rows = q;
    t.k = k;
    t.items.assign(static_cast<size_t>(q * k), -1);
    t.scores.assign(static_cast<size_t>(q * k), 0.0f);
  }
  if (q == 0 || items == 0 || kinds.empty()) return out;

  auto uses_dot = [](RecommenderKind kind) {
    return kind == RecommenderKind::embedding || kind == RecommenderKind::blend;
  };
  auto any = [&](auto pred) { return std::any_of(kinds.begin(), kinds.end(), pred); };
  const bool dot = any(uses_dot);
  // Two recommenders on the dot products (embedding and blend): computed once a block where
  // a block of them is small enough.
  const bool share_dots =
      std::count_if(kinds.begin(), kinds.end(), uses_dot) >= 2 &&
      kScoreBlockRows * items <= (backend.on_device() ? kSharedDotsDeviceFloats : kSharedDotsHostFloats);
  const bool grouped = any([](RecommenderKind kind) {
    return kind == RecommenderKind::group || kind == RecommenderKind::blend;
  });
  const bool popularity = any([](RecommenderKind kind) { return kind == RecommenderKind::popularity; });
  const bool text = any([](RecommenderKind kind) { return kind == RecommenderKind::text; });
  const bool knn = any([](RecommenderKind kind) { return kind == RecommenderKind::item_knn; });
  const int64_t groups = model.group_scores.rows;
  const int64_t f = dot ? model.item_factors.cols : 0;

  // Item-side data: uploaded once per call.
  Buffer<float> item_factors;
  if (dot) item_factors = Buffer<float>(backend, model.item_factors.data);
  Buffer<float> popularity_table, group_table;
  if (popularity) popularity_table = Buffer<float>(backend, model.popularity);
  if (grouped) group_table = Buffer<float>(backend, groups_with_popularity(model));
  const int64_t text_dims = text ? model.item_text.cols : 0;
  Buffer<float> item_text, log_popularity;
  if (text) {
    item_text = Buffer<float>(backend, model.item_text.data);
    std::vector<float> logs(static_cast<size_t>(items));
    for (int64_t i = 0; i < items; ++i)
      logs[static_cast<size_t>(i)] =
          static_cast<float>(std::log(static_cast<double>(model.popularity[static_cast<size_t>(i)]) + kTextPopularityFloor));
    log_popularity = Buffer<float>(backend, logs);
  }
  Buffer<int32_t> knn_index;
  Buffer<float> knn_score;
  if (knn) {
    knn_index = Buffer<int32_t>(backend, model.knn_index);
    knn_score = Buffer<float>(backend, model.knn_score);
  }

  // Blend: the group term lies in [0, 1]; the dot term x_u.y_i is unbounded (BPR above all).
  // By Cauchy-Schwarz |x_u.y_i| <= |x_u| max_i |y_i|, so scaling user u's dot term by
  // 1 / (|x_u| max_i |y_i|) puts it in [-1, 1] without scoring twice. The weights are then
  //   group: w_u = pivot / (pivot + n_u),  dot: (1 - w_u) / (|x_u| max_i |y_i|).
  double max_item_norm = 0.0;
  if (any([](RecommenderKind kind) { return kind == RecommenderKind::blend; })) {
    for (int64_t i = 0; i < items; ++i) {
      const float* yi = model.item_factors.row(i);
      double s = 0.0;
      for (int64_t c = 0; c < f; ++c) s += static_cast<double>(yi[c]) * yi[c];
      max_item_norm = std::max(max_item_norm, std::sqrt(s));
    }
  }

  for (int64_t begin = 0; begin < q; begin += kScoreBlockRows) {
    const int64_t end = std::min(q, begin + kScoreBlockRows);
    const int64_t rows = end - begin;
    const BackendCsr seen(backend, queries.seen, begin, end);
    Buffer<float> user_factors, dots;
    if (dot) user_factors = Buffer<float>(backend, slice(queries.factors.data, begin * f, end * f));
    if (share_dots) {
      dots = Buffer<float>(backend, rows * items);
      backend.gemm_nt(1.0f, user_factors.matrix(rows, f), item_factors.matrix(items, f), 0.0f,
                      dots.matrix(rows, items));
    }
    Buffer<int32_t> user_group, no_group;
    if (grouped) {
      std::vector<int32_t> g = slice(queries.group, begin, end);
      for (auto& v : g)
        if (v < 0) v = static_cast<int32_t>(groups);
      user_group = Buffer<int32_t>(backend, g);
    }
    if (popularity || text) no_group = Buffer<int32_t>(backend, std::vector<int32_t>(static_cast<size_t>(rows), 0));
    Buffer<float> profiles, sharpness;
    if (text) {
      profiles = Buffer<float>(backend, slice(queries.text_profiles.data, begin * text_dims, end * text_dims));
      sharpness = Buffer<float>(backend, std::vector<float>(static_cast<size_t>(rows), static_cast<float>(model.text_sharpness)));
    }

    for (size_t r = 0; r < kinds.size(); ++r) {
      const RecommenderKind kind = kinds[r];
      Buffer<int32_t> index(backend, rows * k);
      Buffer<float> score(backend, rows * k);
      if (kind == RecommenderKind::item_knn) {
        backend.knn_score_topk(seen.view(), knn_index.data(), knn_score.data(), model.knn_neighbours, items,
                               seen.view(), k, index.data(), score.data());
      } else {
        ScoreTerms terms;
        Buffer<float> dot_weight, group_weight;
        if (uses_dot(kind)) {
          if (share_dots) {
            terms.dots = dots.matrix(rows, items);
          } else {
            terms.user_factors = user_factors.matrix(rows, f);
            terms.item_factors = item_factors.matrix(items, f);
          }
        }
        if (kind == RecommenderKind::popularity) {
          terms.group_scores = popularity_table.matrix(1, items);
          terms.user_group = no_group.data();
        } else if (kind == RecommenderKind::text) {
          terms.user_factors = profiles.matrix(rows, text_dims);
          terms.item_factors = item_text.matrix(items, text_dims);
          terms.dot_weight = sharpness.data();
          terms.group_scores = log_popularity.matrix(1, items);
          terms.user_group = no_group.data();
        } else if (kind == RecommenderKind::group || kind == RecommenderKind::blend) {
          terms.group_scores = group_table.matrix(groups + 1, items);
          terms.user_group = user_group.data();
        }
        if (kind == RecommenderKind::blend) {
          std::vector<float> wd(static_cast<size_t>(rows)), wg(static_cast<size_t>(rows));
          for (int64_t u = 0; u < rows; ++u) {
            const double n_u = static_cast<double>(queries.seen.row_length(begin + u));
            const double w = model.blend_pivot / (model.blend_pivot + n_u);
            const float* xu = queries.factors.row(begin + u);
            double s = 0.0;
            for (int64_t c = 0; c < f; ++c) s += static_cast<double>(xu[c]) * xu[c];
            const double bound = std::sqrt(s) * max_item_norm;
            wg[static_cast<size_t>(u)] = static_cast<float>(w);
            wd[static_cast<size_t>(u)] = bound > 0.0 ? static_cast<float>((1.0 - w) / bound) : 0.0f;
          }
          dot_weight = Buffer<float>(backend, wd);
          group_weight = Buffer<float>(backend, wg);
          terms.dot_weight = dot_weight.data();
          terms.group_weight = group_weight.data();
        }
        backend.score_topk(terms, rows, items, seen.view(), k, index.data(), score.data());
      }
      const auto host_index = index.to_host();
      const auto host_score = score.to_host();
      std::copy(host_index.begin(), host_index.end(), out[r].items.begin() + begin * k);
      std::copy(host_score.begin(), host_score.end(), out[r].scores.begin() + begin * k);
    }
  }
  return out;
}

}  // namespace

std::vector<TopK> recommend_many(const Context& ctx, const std::vector<RecommenderKind>& kinds,
                                 const RecommendModel& model, const Queries& queries, int k) {
  for (RecommenderKind kind : kinds) check_queries(kind, model, queries, k);
  if (ctx.comm.size() == 1) return recommend_queries(ctx, kinds, model, queries, k);
  // SPMD: each rank recommends to its block of the queries; the blocks' lists are gathered.
  const RowBlock mine = even_row_blocks(queries.seen.rows, ctx.comm.size())[static_cast<size_t>(ctx.comm.rank())];
  std::vector<TopK> out = recommend_queries(ctx, kinds, model, query_rows(queries, mine), k);
  for (TopK& t : out) {
    t.items = allgather_rows(ctx.comm, t.items);
    t.scores = allgather_rows(ctx.comm, t.scores);
    t.rows = queries.seen.rows;
  }
  return out;
}

TopK recommend(const Context& ctx, RecommenderKind kind, const RecommendModel& model, const Queries& queries, int k) {
  return std::move(recommend_many(ctx, {kind}, model, queries, k).front());
}

}  // namespace cohort
