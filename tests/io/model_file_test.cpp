// model.cohort: every field survives a round trip; foreign, truncated and corrupted files are
// rejected with bad_input naming the file.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/io/binary_stream.hpp"
#include "engine/io/model_file.hpp"
#include "kernels/error.hpp"

namespace cohort {
namespace {

namespace fs = std::filesystem;

Matrix filled(int64_t rows, int64_t cols, float start) {
  Matrix m(rows, cols);
  for (size_t i = 0; i < m.data.size(); ++i) m.data[i] = start + 0.25f * static_cast<float>(i);
  return m;
}

// Every field set away from its default.
SavedModel sample_model() {
  SavedModel m;
  m.config.model = ModelKind::bpr;
  m.config.factors = 3;
  m.config.iterations = 7;
  m.config.regularization = 0.125f;
  m.config.alpha = 4.5f;
  m.config.log_confidence = true;
  m.config.solver = SolverKind::cholesky;
  m.config.cg_steps = 5;
  m.config.learning_rate = 0.0625f;
  m.config.init_scale = 0.02f;
  m.config.compute_loss = true;
  m.embeddings.model = ModelKind::bpr;
  m.embeddings.users = filled(4, 3, -1.0f);
  m.embeddings.items = filled(5, 3, 2.0f);
  m.embeddings.final_loss = 123.456;
  m.groups_k = 2;
  m.centroids = filled(2, 3, 0.5f);
  m.assignment = {0, 1, -1, 1};
  m.confidence = {0.9f, 0.5f, 0.0f, 0.75f};
  m.popularity = {1.0f, 0.5f, 0.25f, 0.0f, 0.125f};
  m.group_scores = filled(2, 5, 0.0f);
  m.user_ids = {"alice", "bob", "", "user with spaces, and commas"};
  m.item_ids = {"i1", "i2", "i3", "i4", "\xc3\xa9t\xc3\xa9"};
  m.item_text = filled(5, 2, 0.125f);
  return m;
}

class ModelFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cohort_model_file_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    path_ = (dir_ / "model.cohort").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string slurp() const {
    std::ifstream in(path_, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  void spit(const std::string& bytes) const {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  // The status of loading the file, checking that a bad_input message names it.
  Status load_status() {
    try {
      load_model(path_);
    } catch (const Error& e) {
      message_ = e.what();
      if (e.status() == Status::bad_input) {
        EXPECT_NE(std::string(e.what()).find(path_), std::string::npos) << e.what();
      }
      return e.status();
    }
    return Status::ok;
  }
  fs::path dir_;
  std::string path_;
  std::string message_;  // of the last failed load
};

TEST_F(ModelFileTest, RoundTripKeepsEveryField) {
  const SavedModel m = sample_model();
  save_model(path_, m);
  const SavedModel b = load_model(path_);
  EXPECT_EQ(b.config.model, m.config.model);
  EXPECT_EQ(b.config.factors, m.config.factors);
  EXPECT_EQ(b.config.iterations, m.config.iterations);
  EXPECT_EQ(b.config.regularization, m.config.regularization);
  EXPECT_EQ(b.config.alpha, m.config.alpha);
  EXPECT_EQ(b.config.log_confidence, m.config.log_confidence);
  EXPECT_EQ(b.config.solver, m.config.solver);
  EXPECT_EQ(b.config.cg_steps, m.config.cg_steps);
  EXPECT_EQ(b.config.learning_rate, m.config.learning_rate);
  EXPECT_EQ(b.config.init_scale, m.config.init_scale);
  EXPECT_EQ(b.config.compute_loss, m.config.compute_loss);
  EXPECT_EQ(b.embeddings.model, m.embeddings.model);
  EXPECT_EQ(b.embeddings.users.rows, 4);
  EXPECT_EQ(b.embeddings.users.cols, 3);
  EXPECT_EQ(b.embeddings.users.data, m.embeddings.users.data);
  EXPECT_EQ(b.embeddings.items.rows, 5);
  EXPECT_EQ(b.embeddings.items.data, m.embeddings.items.data);
  EXPECT_EQ(b.embeddings.final_loss, m.embeddings.final_loss);
  EXPECT_EQ(b.groups_k, 2);
  EXPECT_EQ(b.centroids.rows, 2);
  EXPECT_EQ(b.centroids.cols, 3);
  EXPECT_EQ(b.centroids.data, m.centroids.data);
  EXPECT_EQ(b.assignment, m.assignment);
  EXPECT_EQ(b.confidence, m.confidence);
  EXPECT_EQ(b.popularity, m.popularity);
  EXPECT_EQ(b.group_scores.rows, 2);
  EXPECT_EQ(b.group_scores.cols, 5);
  EXPECT_EQ(b.group_scores.data, m.group_scores.data);
  EXPECT_EQ(b.user_ids, m.user_ids);
  EXPECT_EQ(b.item_ids, m.item_ids);
  EXPECT_EQ(b.item_text.rows, 5);
  EXPECT_EQ(b.item_text.cols, 2);
  EXPECT_EQ(b.item_text.data, m.item_text.data);
}

// Version 1 files (before the item text) still load, without text.
TEST_F(ModelFileTest, VersionOneFilesLoadWithoutItemText) {
  SavedModel m = sample_model();
  m.item_text = Matrix();
  save_model(path_, m);
  const std::string v2 = slurp();
  binary::Writer empty;
  empty.matrix(Matrix());
  // The version 2 payload less its trailing (empty) item text is the version 1 payload.
  const std::string payload = v2.substr(20, v2.size() - 28 - empty.bytes().size());
  const char magic[8] = {'C', 'O', 'H', 'O', 'R', 'T', 'M', 'D'};
  binary::write_framed_file(path_, magic, 1, payload);
  const SavedModel b = load_model(path_);
  EXPECT_EQ(b.item_ids, m.item_ids);
  EXPECT_EQ(b.embeddings.items.data, m.embeddings.items.data);
  EXPECT_EQ(b.item_text.rows, 0);
}

TEST_F(ModelFileTest, ModelWithoutGroupsRoundTrips) {
  SavedModel m = sample_model();
  m.groups_k = 0;
  m.centroids = Matrix();
  m.group_scores = Matrix();
  m.assignment.assign(4, -1);
  save_model(path_, m);
  const SavedModel b = load_model(path_);
  EXPECT_EQ(b.groups_k, 0);
  EXPECT_EQ(b.centroids.rows, 0);
  EXPECT_EQ(b.assignment, m.assignment);
  const SavedModel empty;
  save_model(path_, empty);
  EXPECT_EQ(load_model(path_).embeddings.users.rows, 0);
}

TEST_F(ModelFileTest, LayoutStartsWithMagicAndVersion) {
  save_model(path_, sample_model());
  const std::string bytes = slurp();
  EXPECT_EQ(bytes.substr(0, 8), "COHORTMD");
  uint32_t version = 0;
  uint64_t payload = 0;
  std::memcpy(&version, bytes.data() + 8, 4);
  std::memcpy(&payload, bytes.data() + 12, 8);
  EXPECT_EQ(version, 2u);
  EXPECT_EQ(payload + 8 + 4 + 8 + 8, bytes.size());
  // No temporary left next to it.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(ModelFileTest, CorruptionIsRejected) {
  save_model(path_, sample_model());
  const std::string good = slurp();
  // Every single flipped byte of the payload or checksum is caught by the checksum.
  for (size_t at = 20; at < good.size(); at += 7) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x10);
    spit(bad);
    EXPECT_EQ(load_status(), Status::bad_input) << "flipped byte " << at;
  }
  spit(good.substr(0, good.size() - 1));
  EXPECT_EQ(load_status(), Status::bad_input);
  spit(good.substr(0, 10));
  EXPECT_EQ(load_status(), Status::bad_input);
  spit(good + std::string(3, '\0'));
  EXPECT_EQ(load_status(), Status::bad_input);
  spit("");
  EXPECT_EQ(load_status(), Status::bad_input);
  std::string foreign = good;
  foreign.replace(0, 8, "COHORTDS");  // a data cache is not a model
  spit(foreign);
  EXPECT_EQ(load_status(), Status::bad_input);
  std::string future = good;
  future[8] = 3;  // version 3
  spit(future);
  EXPECT_EQ(load_status(), Status::bad_input);
  EXPECT_NE(message_.find("version 3"), std::string::npos) << message_;
  fs::remove(path_);
  EXPECT_EQ(load_status(), Status::io_error);
}

TEST_F(ModelFileTest, InconsistentPayloadWithValidChecksumIsRejected) {
  // A well-framed file whose payload stops early, carries a count larger than the file,
  // or describes an assignment outside the groups.
  const char magic[8] = {'C', 'O', 'H', 'O', 'R', 'T', 'M', 'D'};
  binary::Writer w;
  w.pod<int32_t>(0);
  binary::write_framed_file(path_, magic, 1, w.bytes());
  EXPECT_EQ(load_status(), Status::bad_input);

  SavedModel m = sample_model();
  save_model(path_, m);
  // Rebuild the payload with a bad assignment by hand: load, mutate, re-frame.
  const std::string good = slurp();
  std::string payload = good.substr(20, good.size() - 28);
  const std::string needle(reinterpret_cast<const char*>(m.assignment.data()), m.assignment.size() * 4);
  const size_t at = payload.find(needle);
  ASSERT_NE(at, std::string::npos);
  const int32_t bad_group = 7;
  std::memcpy(payload.data() + at, &bad_group, 4);
  binary::write_framed_file(path_, magic, 2, payload);
  EXPECT_EQ(load_status(), Status::bad_input);
  EXPECT_NE(message_.find("group 7"), std::string::npos) << message_;

  binary::Writer huge;
  huge.pod<int32_t>(0);
  huge.pod<uint64_t>(uint64_t{1} << 60);  // a "factors" field read as a huge matrix header
  binary::write_framed_file(path_, magic, 1, huge.bytes());
  EXPECT_EQ(load_status(), Status::bad_input);
}

TEST_F(ModelFileTest, InconsistentModelIsNotSaved) {
  SavedModel m = sample_model();
  m.user_ids.pop_back();
  EXPECT_THROW(save_model(path_, m), Error);
  m = sample_model();
  m.assignment[0] = 2;
  EXPECT_THROW(save_model(path_, m), Error);
  m = sample_model();
  m.popularity.push_back(0.0f);
  EXPECT_THROW(save_model(path_, m), Error);
  m = sample_model();
  m.item_text = filled(4, 2, 0.0f);  // 4 text vectors for 5 items
  EXPECT_THROW(save_model(path_, m), Error);
  EXPECT_FALSE(fs::exists(path_));
}

}  // namespace
}  // namespace cohort
