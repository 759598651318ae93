#include "engine/io/model_file.hpp"

#include "engine/io/binary_stream.hpp"
#include "kernels/error.hpp"

namespace cohort {
namespace {

constexpr char kModelMagic[8] = {'C', 'O', 'H', 'O', 'R', 'T', 'M', 'D'};
constexpr uint32_t kModelVersion = 2;  // 2: item_text after the ids
constexpr uint32_t kOldestModelVersion = 1;
constexpr const char* kModelKind = "model file";

// A size that must match another unless it is empty (fields a model may leave unset).
bool matches_or_empty(int64_t size, int64_t expected) { return size == 0 || size == expected; }

// The invariants between the fields: Error(status) naming `where` on the first broken one.
void check_consistent(const SavedModel& m, Status status, const std::string& where) {
  const Embeddings& e = m.embeddings;
  COHORT_CHECK_STATUS(m.groups_k >= 0, status, "{}: groups_k is {}", where, m.groups_k);
  COHORT_CHECK_STATUS(e.users.rows == 0 || e.items.rows == 0 || e.users.cols == e.items.cols, status,
                      "{}: user factors have {} columns, item factors {}", where, e.users.cols, e.items.cols);
  COHORT_CHECK_STATUS(m.user_ids.empty() || matches_or_empty(e.users.rows, static_cast<int64_t>(m.user_ids.size())),
                      status, "{}: {} user ids for {} user factor rows", where, m.user_ids.size(), e.users.rows);
  COHORT_CHECK_STATUS(m.item_ids.empty() || matches_or_empty(e.items.rows, static_cast<int64_t>(m.item_ids.size())),
                      status, "{}: {} item ids for {} item factor rows", where, m.item_ids.size(), e.items.rows);
  const int64_t items = m.item_ids.empty() ? e.items.rows : static_cast<int64_t>(m.item_ids.size());
  COHORT_CHECK_STATUS(matches_or_empty(static_cast<int64_t>(m.popularity.size()), items), status,
                      "{}: {} popularity values for {} items", where, m.popularity.size(), items);
  COHORT_CHECK_STATUS(matches_or_empty(m.centroids.rows, m.groups_k), status, "{}: {} centroids for {} groups", where,
                      m.centroids.rows, m.groups_k);
  COHORT_CHECK_STATUS(matches_or_empty(m.group_scores.rows, m.groups_k), status,
                      "{}: group scores have {} rows for {} groups", where, m.group_scores.rows, m.groups_k);
  COHORT_CHECK_STATUS(m.group_scores.rows == 0 || matches_or_empty(m.group_scores.cols, items), status,
                      "{}: group scores have {} columns for {} items", where, m.group_scores.cols, items);
  COHORT_CHECK_STATUS(m.assignment.size() == m.confidence.size(), status, "{}: {} assignments but {} confidences",
                      where, m.assignment.size(), m.confidence.size());
  COHORT_CHECK_STATUS(matches_or_empty(m.item_text.rows, items), status, "{}: {} item text vectors for {} items",
                      where, m.item_text.rows, items);
  for (size_t u = 0; u < m.assignment.size(); ++u) {
    COHORT_CHECK_STATUS(m.assignment[u] >= -1 && m.assignment[u] < m.groups_k, status,
                        "{}: user {} is assigned to group {} of {}", where, u, m.assignment[u], m.groups_k);
  }
}

void write_config(binary::Writer& w, const EmbedConfig& c) {
  w.pod<int32_t>(static_cast<int32_t>(c.model));
  w.pod<int32_t>(c.factors);
  w.pod<int32_t>(c.iterations);
  w.pod<float>(c.regularization);
  w.pod<float>(c.alpha);
  w.pod<uint8_t>(c.log_confidence ? 1 : 0);
  w.pod<int32_t>(static_cast<int32_t>(c.solver));
  w.pod<int32_t>(c.cg_steps);
  w.pod<float>(c.learning_rate);
  w.pod<float>(c.init_scale);
  w.pod<uint8_t>(c.compute_loss ? 1 : 0);
}

ModelKind read_model_kind(binary::Reader& r) {
  const auto v = r.pod<int32_t>();
  if (v < static_cast<int32_t>(ModelKind::als) || v > static_cast<int32_t>(ModelKind::mf)) {
    r.fail("unknown model kind " + std::to_string(v));
  }
  return static_cast<ModelKind>(v);
}

bool read_flag(binary::Reader& r) {
  const auto v = r.pod<uint8_t>();
  if (v > 1) r.fail("flag byte " + std::to_string(v) + " is neither 0 nor 1");
  return v == 1;
}

EmbedConfig read_config(binary::Reader& r) {
  EmbedConfig c;
  c.model = read_model_kind(r);
  c.factors = r.pod<int32_t>();
  c.iterations = r.pod<int32_t>();
  c.regularization = r.pod<float>();
  c.alpha = r.pod<float>();
  c.log_confidence = read_flag(r);
  const auto solver = r.pod<int32_t>();
  if (solver != static_cast<int32_t>(SolverKind::cholesky) &&
      solver != static_cast<int32_t>(SolverKind::conjugate_gradient)) {
    r.fail("unknown solver " + std::to_string(solver));
  }
  c.solver = static_cast<SolverKind>(solver);
  c.cg_steps = r.pod<int32_t>();
  c.learning_rate = r.pod<float>();
  c.init_scale = r.pod<float>();
  c.compute_loss = read_flag(r);
  return c;
}

}  // namespace

void save_model(const std::string& path, const SavedModel& model) {
  check_consistent(model, Status::invalid_argument, "save_model " + path);
  binary::Writer w;
  write_config(w, model.config);
  w.pod<int32_t>(static_cast<int32_t>(model.embeddings.model));
  w.matrix(model.embeddings.users);
  w.matrix(model.embeddings.items);
  w.pod<double>(model.embeddings.final_loss);
  w.pod<int32_t>(model.groups_k);
  w.matrix(model.centroids);
  w.vector(model.assignment);
  w.vector(model.confidence);
  w.vector(model.popularity);
  w.matrix(model.group_scores);
  w.strings(model.user_ids);
  w.strings(model.item_ids);
  w.matrix(model.item_text);
  binary::write_framed_file(path, kModelMagic, kModelVersion, w.bytes());
}

SavedModel load_model(const std::string& path) {
  const binary::FramedFile file = binary::read_framed_file(path, kModelMagic, kOldestModelVersion, kModelVersion, kModelKind);
  binary::Reader r(file.payload(), path);
  SavedModel m;
  m.config = read_config(r);
  m.embeddings.model = read_model_kind(r);
  m.embeddings.users = r.matrix();
  m.embeddings.items = r.matrix();
  m.embeddings.final_loss = r.pod<double>();
  m.groups_k = r.pod<int32_t>();
  m.centroids = r.matrix();
  m.assignment = r.vector<int32_t>();
  m.confidence = r.vector<float>();
  m.popularity = r.vector<float>();
  m.group_scores = r.matrix();
  m.user_ids = r.strings();
  m.item_ids = r.strings();
  if (file.version >= 2) m.item_text = r.matrix();
  r.expect_end();
  check_consistent(m, Status::bad_input, path);
  return m;
}

}  // namespace cohort
