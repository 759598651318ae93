// Every C API function given bad arguments: the right status, a message naming the problem,
// outputs untouched, and nothing thrown or aborted.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "cohort/cohort.h"

namespace {

// Expects status and a last error that contains `mentions`.
#define EXPECT_FAILS(call, status, mentions)                                                   \
  do {                                                                                         \
    const cohort_status got_ = (call);                                                         \
    EXPECT_EQ(got_, (status)) << #call << ": " << cohort_status_name(got_) << ": "             \
                              << cohort_last_error();                                          \
    EXPECT_NE(std::string(cohort_last_error()).find(mentions), std::string::npos)              \
        << #call << ": message '" << cohort_last_error() << "' does not mention '" << (mentions) << "'"; \
  } while (0)

#define ASSERT_OK(call) ASSERT_EQ((call), COHORT_OK) << #call << ": " << cohort_last_error()

constexpr int kUsers = 12;
constexpr int kItems = 8;
constexpr int kFactors = 4;

// Two blocks: users 0..5 on items 0..3, users 6..11 on items 4..7, three items each.
struct Fixture {
  cohort_context* ctx = nullptr;
  cohort_dataset* data = nullptr;
  cohort_model* model = nullptr;
  cohort_groups* groups = nullptr;

  Fixture() {
    std::vector<int32_t> users, items;
    for (int u = 0; u < kUsers; ++u)
      for (int j = 0; j < 3; ++j) {
        users.push_back(u);
        items.push_back((u < kUsers / 2 ? 0 : 4) + (u + j) % 4);
      }
    cohort_context_config cc = COHORT_CONTEXT_CONFIG_INIT;
    cc.backend = "cpu";
    EXPECT_EQ(cohort_context_create(&cc, &ctx), COHORT_OK) << cohort_last_error();
    EXPECT_EQ(cohort_dataset_from_coo(kUsers, kItems, static_cast<int64_t>(users.size()), users.data(), items.data(),
                                      nullptr, &data),
              COHORT_OK)
        << cohort_last_error();
    cohort_model_config mc = COHORT_MODEL_CONFIG_INIT;
    mc.factors = kFactors;
    mc.iterations = 3;
    EXPECT_EQ(cohort_model_train(ctx, data, &mc, &model), COHORT_OK) << cohort_last_error();
    cohort_groups_config gc = COHORT_GROUPS_CONFIG_INIT;
    gc.k = 2;
    gc.restarts = 1;
    EXPECT_EQ(cohort_groups_discover(ctx, data, model, &gc, &groups), COHORT_OK) << cohort_last_error();
  }
  ~Fixture() {
    cohort_groups_free(groups);
    cohort_model_free(model);
    cohort_dataset_free(data);
    cohort_context_free(ctx);
  }
};

std::string scratch(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / "cohort_capi_errors_test";
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

TEST(CapiLibrary, VersionAndStatusNames) {
  EXPECT_STREQ(cohort_version(), "0.1.0");
  EXPECT_STREQ(cohort_status_name(COHORT_OK), "ok");
  EXPECT_STREQ(cohort_status_name(COHORT_ERROR_INVALID_ARGUMENT), "invalid_argument");
  EXPECT_STREQ(cohort_status_name(COHORT_ERROR_IO), "io_error");
  EXPECT_STREQ(cohort_status_name(COHORT_ERROR_BUFFER_TOO_SMALL), "buffer_too_small");
  EXPECT_STREQ(cohort_status_name(static_cast<cohort_status>(99)), "unknown");
}

TEST(CapiLibrary, LastErrorIsPerThread) {
  EXPECT_FAILS(cohort_context_create(nullptr, nullptr), COHORT_ERROR_INVALID_ARGUMENT, "out_context");
  std::string other;
  std::thread([&] { other = cohort_last_error(); }).join();
  EXPECT_EQ(other, "");
  EXPECT_NE(std::string(cohort_last_error()).find("cohort_context_create"), std::string::npos);
}

TEST(CapiLibrary, FreeAcceptsNull) {
  cohort_context_free(nullptr);
  cohort_dataset_free(nullptr);
  cohort_model_free(nullptr);
  cohort_groups_free(nullptr);
}

TEST(CapiLibrary, BackendsAvailable) {
  size_t needed = 0;
  EXPECT_FAILS(cohort_backends_available(nullptr, 0, nullptr), COHORT_ERROR_INVALID_ARGUMENT, "out_needed");
  EXPECT_FAILS(cohort_backends_available(nullptr, 0, &needed), COHORT_ERROR_BUFFER_TOO_SMALL, "out_text");
  EXPECT_GE(needed, 4u);
  std::string text(needed, '#');
  char tiny[2] = {'#', '#'};
  EXPECT_FAILS(cohort_backends_available(tiny, sizeof tiny, &needed), COHORT_ERROR_BUFFER_TOO_SMALL, "needed");
  EXPECT_EQ(tiny[0], '#');
  ASSERT_OK(cohort_backends_available(text.data(), text.size(), &needed));
  EXPECT_EQ(std::string(text.c_str()).rfind("cpu", 0), 0u);
}

TEST(CapiContext, BadArguments) {
  cohort_context* ctx = nullptr;
  cohort_context_config cc = COHORT_CONTEXT_CONFIG_INIT;
  EXPECT_FAILS(cohort_context_create(&cc, nullptr), COHORT_ERROR_INVALID_ARGUMENT, "out_context");
  cc.struct_size = 3;
  EXPECT_FAILS(cohort_context_create(&cc, &ctx), COHORT_ERROR_INVALID_ARGUMENT, "struct_size");
  cc = COHORT_CONTEXT_CONFIG_INIT;
  cc.struct_size = offsetof(cohort_context_config, tf32);  // a header from before tf32: accepted
  cc.backend = "cpu";
  ASSERT_OK(cohort_context_create(&cc, &ctx));
  cohort_context_free(ctx);
  ctx = nullptr;
  cc = COHORT_CONTEXT_CONFIG_INIT;
  cc.backend = "cpu";
  cc.tf32 = 1;  // GPU only; the CPU ignores it
  ASSERT_OK(cohort_context_create(&cc, &ctx));
  cohort_context_free(ctx);
  ctx = nullptr;
  cc = COHORT_CONTEXT_CONFIG_INIT;
  cc.struct_size += 8;  // a newer header than this library
  EXPECT_FAILS(cohort_context_create(&cc, &ctx), COHORT_ERROR_INVALID_ARGUMENT, "struct_size");
  cc = COHORT_CONTEXT_CONFIG_INIT;
  cc.backend = nullptr;
  EXPECT_FAILS(cohort_context_create(&cc, &ctx), COHORT_ERROR_INVALID_ARGUMENT, "config->backend");
  cc.backend = "tpu";
  EXPECT_FAILS(cohort_context_create(&cc, &ctx), COHORT_ERROR_INVALID_ARGUMENT, "tpu");
  cc.backend = "cuda:x";
  EXPECT_FAILS(cohort_context_create(&cc, &ctx), COHORT_ERROR_INVALID_ARGUMENT, "cuda:x");
  cc.backend = "cpu";
  cc.threads = -1;
  EXPECT_FAILS(cohort_context_create(&cc, &ctx), COHORT_ERROR_INVALID_ARGUMENT, "threads");
  EXPECT_EQ(ctx, nullptr);

  size_t needed = 0;
  ASSERT_EQ(cohort_backends_available(nullptr, 0, &needed), COHORT_ERROR_BUFFER_TOO_SMALL);
  std::string list(needed, '\0');
  ASSERT_OK(cohort_backends_available(list.data(), list.size(), &needed));
  if (std::string(list.c_str()).find("cuda") == std::string::npos) {
    cc = COHORT_CONTEXT_CONFIG_INIT;
    cc.backend = "cuda";
    EXPECT_FAILS(cohort_context_create(&cc, &ctx), COHORT_ERROR_BACKEND, "cuda");
  }

  const char* name = nullptr;
  EXPECT_FAILS(cohort_context_backend(nullptr, &name), COHORT_ERROR_INVALID_ARGUMENT, "context");
  ASSERT_OK(cohort_context_create(nullptr, &ctx));
  EXPECT_FAILS(cohort_context_backend(ctx, nullptr), COHORT_ERROR_INVALID_ARGUMENT, "out_name");
  ASSERT_OK(cohort_context_backend(ctx, &name));
  EXPECT_NE(std::string(name), "");
  cohort_context_free(ctx);
}

TEST(CapiDataset, FromCooBadArguments) {
  const int32_t users[] = {0, 1, 2};
  const int32_t items[] = {0, 1, 1};
  const float values[] = {1.0f, NAN, 2.0f};
  const int32_t bad_items[] = {0, 5, 1};
  cohort_dataset* data = nullptr;
  EXPECT_FAILS(cohort_dataset_from_coo(3, 2, 3, users, items, nullptr, nullptr), COHORT_ERROR_INVALID_ARGUMENT,
               "out_dataset");
  EXPECT_FAILS(cohort_dataset_from_coo(0, 2, 3, users, items, nullptr, &data), COHORT_ERROR_INVALID_ARGUMENT,
               "n_users");
  EXPECT_FAILS(cohort_dataset_from_coo(3, -1, 3, users, items, nullptr, &data), COHORT_ERROR_INVALID_ARGUMENT,
               "n_items");
  EXPECT_FAILS(cohort_dataset_from_coo(3, 2, -1, users, items, nullptr, &data), COHORT_ERROR_INVALID_ARGUMENT, "nnz");
  EXPECT_FAILS(cohort_dataset_from_coo(3, 2, 3, nullptr, items, nullptr, &data), COHORT_ERROR_INVALID_ARGUMENT,
               "users is NULL");
  EXPECT_FAILS(cohort_dataset_from_coo(3, 2, 3, users, nullptr, nullptr, &data), COHORT_ERROR_INVALID_ARGUMENT,
               "items is NULL");
  EXPECT_FAILS(cohort_dataset_from_coo(2, 2, 3, users, items, nullptr, &data), COHORT_ERROR_INVALID_ARGUMENT,
               "users[2]");
  EXPECT_FAILS(cohort_dataset_from_coo(3, 2, 3, users, bad_items, nullptr, &data), COHORT_ERROR_INVALID_ARGUMENT,
               "items[1]");
  EXPECT_FAILS(cohort_dataset_from_coo(3, 2, 3, users, items, values, &data), COHORT_ERROR_INVALID_ARGUMENT,
               "values[1]");
  EXPECT_EQ(data, nullptr);

  // Duplicates are summed; ids are the decimal indices.
  const int32_t dup_users[] = {0, 0, 1};
  const int32_t dup_items[] = {1, 1, 0};
  ASSERT_OK(cohort_dataset_from_coo(2, 2, 3, dup_users, dup_items, nullptr, &data));
  int64_t n_users = 0, n_items = 0, nnz = 0;
  EXPECT_FAILS(cohort_dataset_shape(data, nullptr, nullptr, nullptr), COHORT_ERROR_INVALID_ARGUMENT, "NULL");
  EXPECT_FAILS(cohort_dataset_shape(nullptr, &n_users, nullptr, nullptr), COHORT_ERROR_INVALID_ARGUMENT, "dataset");
  ASSERT_OK(cohort_dataset_shape(data, &n_users, &n_items, &nnz));
  EXPECT_EQ(n_users, 2);
  EXPECT_EQ(n_items, 2);
  EXPECT_EQ(nnz, 2);
  const char* id = nullptr;
  ASSERT_OK(cohort_dataset_user_id(data, 1, &id));
  EXPECT_STREQ(id, "1");
  EXPECT_FAILS(cohort_dataset_user_id(data, 2, &id), COHORT_ERROR_INVALID_ARGUMENT, "user 2");
  EXPECT_FAILS(cohort_dataset_item_id(data, -1, &id), COHORT_ERROR_INVALID_ARGUMENT, "item -1");
  EXPECT_FAILS(cohort_dataset_item_id(data, 0, nullptr), COHORT_ERROR_INVALID_ARGUMENT, "out_id");
  EXPECT_FAILS(cohort_dataset_user_id(nullptr, 0, &id), COHORT_ERROR_INVALID_ARGUMENT, "dataset");
  cohort_dataset_free(data);
}

TEST(CapiDataset, FromFileErrors) {
  cohort_dataset* data = nullptr;
  const std::string missing = scratch("missing.csv");
  std::remove(missing.c_str());
  EXPECT_FAILS(cohort_dataset_from_file(nullptr, nullptr, &data), COHORT_ERROR_INVALID_ARGUMENT, "path");
  EXPECT_FAILS(cohort_dataset_from_file(missing.c_str(), nullptr, nullptr), COHORT_ERROR_INVALID_ARGUMENT,
               "out_dataset");
  EXPECT_FAILS(cohort_dataset_from_file(missing.c_str(), nullptr, &data), COHORT_ERROR_IO, missing);

  cohort_read_options o = COHORT_READ_OPTIONS_INIT;
  o.format = "parquet";
  EXPECT_FAILS(cohort_dataset_from_file(missing.c_str(), &o, &data), COHORT_ERROR_INVALID_ARGUMENT, "parquet");
  o = COHORT_READ_OPTIONS_INIT;
  o.duplicates = nullptr;
  EXPECT_FAILS(cohort_dataset_from_file(missing.c_str(), &o, &data), COHORT_ERROR_INVALID_ARGUMENT,
               "options->duplicates");
  o = COHORT_READ_OPTIONS_INIT;
  o.user_column = -1;
  EXPECT_FAILS(cohort_dataset_from_file(missing.c_str(), &o, &data), COHORT_ERROR_INVALID_ARGUMENT, "user_column");

  const std::string bad = scratch("bad.csv");
  std::ofstream(bad) << "u1,i1,1\nu2,i2,1\nu3\n";
  o = COHORT_READ_OPTIONS_INIT;
  o.format = "csv";
  o.timestamp_column = -1;
  EXPECT_FAILS(cohort_dataset_from_file(bad.c_str(), &o, &data), COHORT_ERROR_BAD_INPUT, "bad.csv");
  EXPECT_EQ(data, nullptr);

  const std::string good = scratch("good.csv");
  std::ofstream(good) << "u1,i1,1\nu2,i2,1\nu1,i2,3\n";
  ASSERT_OK(cohort_dataset_from_file(good.c_str(), &o, &data));
  const char* id = nullptr;
  ASSERT_OK(cohort_dataset_item_id(data, 1, &id));
  EXPECT_STREQ(id, "i2");
  cohort_dataset_free(data);
}

TEST(CapiModel, TrainBadArguments) {
  Fixture f;
  cohort_model* model = nullptr;
  cohort_model_config mc = COHORT_MODEL_CONFIG_INIT;
  EXPECT_FAILS(cohort_model_train(nullptr, f.data, &mc, &model), COHORT_ERROR_INVALID_ARGUMENT, "context");
  EXPECT_FAILS(cohort_model_train(f.ctx, nullptr, &mc, &model), COHORT_ERROR_INVALID_ARGUMENT, "dataset");
  EXPECT_FAILS(cohort_model_train(f.ctx, f.data, &mc, nullptr), COHORT_ERROR_INVALID_ARGUMENT, "out_model");
  mc.model = "svd";
  EXPECT_FAILS(cohort_model_train(f.ctx, f.data, &mc, &model), COHORT_ERROR_INVALID_ARGUMENT, "svd");
  mc = COHORT_MODEL_CONFIG_INIT;
  mc.solver = "lu";
  EXPECT_FAILS(cohort_model_train(f.ctx, f.data, &mc, &model), COHORT_ERROR_INVALID_ARGUMENT, "config->solver");
  mc = COHORT_MODEL_CONFIG_INIT;
  mc.factors = 0;
  EXPECT_FAILS(cohort_model_train(f.ctx, f.data, &mc, &model), COHORT_ERROR_INVALID_ARGUMENT, "config->factors");
  mc = COHORT_MODEL_CONFIG_INIT;
  mc.regularization = -1.0f;
  EXPECT_FAILS(cohort_model_train(f.ctx, f.data, &mc, &model), COHORT_ERROR_INVALID_ARGUMENT, "regularization");
  mc = COHORT_MODEL_CONFIG_INIT;
  mc.alpha = NAN;
  EXPECT_FAILS(cohort_model_train(f.ctx, f.data, &mc, &model), COHORT_ERROR_INVALID_ARGUMENT, "alpha");
  mc = COHORT_MODEL_CONFIG_INIT;
  mc.learning_rate = 0.0f;
  EXPECT_FAILS(cohort_model_train(f.ctx, f.data, &mc, &model), COHORT_ERROR_INVALID_ARGUMENT, "learning_rate");
  mc = COHORT_MODEL_CONFIG_INIT;
  mc.struct_size = 0;
  EXPECT_FAILS(cohort_model_train(f.ctx, f.data, &mc, &model), COHORT_ERROR_INVALID_ARGUMENT, "struct_size");
  EXPECT_EQ(model, nullptr);

  cohort_dataset* empty = nullptr;
  ASSERT_OK(cohort_dataset_from_coo(3, 3, 0, nullptr, nullptr, nullptr, &empty));
  EXPECT_FAILS(cohort_model_train(f.ctx, empty, nullptr, &model), COHORT_ERROR_INVALID_ARGUMENT, "no interactions");
  cohort_dataset_free(empty);
}

TEST(CapiModel, ShapeAndFactorsBadArguments) {
  Fixture f;
  int64_t users = 0;
  int32_t factors = 0;
  EXPECT_FAILS(cohort_model_shape(nullptr, &users, nullptr, &factors), COHORT_ERROR_INVALID_ARGUMENT, "model");
  EXPECT_FAILS(cohort_model_shape(f.model, nullptr, nullptr, nullptr), COHORT_ERROR_INVALID_ARGUMENT, "NULL");
  ASSERT_OK(cohort_model_shape(f.model, &users, nullptr, &factors));
  EXPECT_EQ(users, kUsers);
  EXPECT_EQ(factors, kFactors);

  std::vector<float> u(kUsers * kFactors, -7.0f), v(kItems * kFactors, -7.0f);
  EXPECT_FAILS(cohort_model_factors(nullptr, u.data(), u.size(), v.data(), v.size()), COHORT_ERROR_INVALID_ARGUMENT,
               "model");
  EXPECT_FAILS(cohort_model_factors(f.model, nullptr, 0, nullptr, 0), COHORT_ERROR_INVALID_ARGUMENT, "both NULL");
  EXPECT_FAILS(cohort_model_factors(f.model, u.data(), u.size() - 1, v.data(), v.size()),
               COHORT_ERROR_INVALID_ARGUMENT, "out_user_factors");
  EXPECT_FAILS(cohort_model_factors(f.model, u.data(), u.size(), v.data(), 3), COHORT_ERROR_INVALID_ARGUMENT,
               "out_item_factors");
  EXPECT_EQ(u[0], -7.0f) << "a failed call wrote its output";
  ASSERT_OK(cohort_model_factors(f.model, nullptr, 0, v.data(), v.size()));
  EXPECT_NE(v[0], -7.0f);
}

TEST(CapiModel, FoldInBadArguments) {
  Fixture f;
  const int64_t indptr[] = {0, 2};
  const int32_t items[] = {1, 2};
  const int32_t bad_items[] = {1, kItems};
  const int64_t bad_indptr[] = {0, -1};
  const int64_t bad_start[] = {1, 2};
  const float nan_values[] = {1.0f, NAN};
  float out[kFactors];
  EXPECT_FAILS(cohort_model_fold_in(nullptr, f.model, 1, indptr, items, nullptr, out, kFactors),
               COHORT_ERROR_INVALID_ARGUMENT, "context");
  EXPECT_FAILS(cohort_model_fold_in(f.ctx, nullptr, 1, indptr, items, nullptr, out, kFactors),
               COHORT_ERROR_INVALID_ARGUMENT, "model");
  EXPECT_FAILS(cohort_model_fold_in(f.ctx, f.model, 0, indptr, items, nullptr, out, kFactors),
               COHORT_ERROR_INVALID_ARGUMENT, "n_new");
  EXPECT_FAILS(cohort_model_fold_in(f.ctx, f.model, 1, nullptr, items, nullptr, out, kFactors),
               COHORT_ERROR_INVALID_ARGUMENT, "indptr");
  EXPECT_FAILS(cohort_model_fold_in(f.ctx, f.model, 1, bad_start, items, nullptr, out, kFactors),
               COHORT_ERROR_INVALID_ARGUMENT, "indptr[0]");
  EXPECT_FAILS(cohort_model_fold_in(f.ctx, f.model, 1, bad_indptr, items, nullptr, out, kFactors),
               COHORT_ERROR_INVALID_ARGUMENT, "indptr decreases");
  EXPECT_FAILS(cohort_model_fold_in(f.ctx, f.model, 1, indptr, nullptr, nullptr, out, kFactors),
               COHORT_ERROR_INVALID_ARGUMENT, "items");
  EXPECT_FAILS(cohort_model_fold_in(f.ctx, f.model, 1, indptr, bad_items, nullptr, out, kFactors),
               COHORT_ERROR_INVALID_ARGUMENT, "items[1]");
  EXPECT_FAILS(cohort_model_fold_in(f.ctx, f.model, 1, indptr, items, nan_values, out, kFactors),
               COHORT_ERROR_INVALID_ARGUMENT, "values[1]");
  EXPECT_FAILS(cohort_model_fold_in(f.ctx, f.model, 1, indptr, items, nullptr, nullptr, kFactors),
               COHORT_ERROR_INVALID_ARGUMENT, "out_factors");
  EXPECT_FAILS(cohort_model_fold_in(f.ctx, f.model, 1, indptr, items, nullptr, out, kFactors - 1),
               COHORT_ERROR_INVALID_ARGUMENT, "out_factors");
  ASSERT_OK(cohort_model_fold_in(f.ctx, f.model, 1, indptr, items, nullptr, out, kFactors));
}

TEST(CapiModel, SaveLoadErrors) {
  Fixture f;
  const std::string path = scratch("model.cohort");
  EXPECT_FAILS(cohort_model_save(nullptr, nullptr, path.c_str()), COHORT_ERROR_INVALID_ARGUMENT, "model");
  EXPECT_FAILS(cohort_model_save(f.model, nullptr, nullptr), COHORT_ERROR_INVALID_ARGUMENT, "path");
  const std::string unwritable = scratch("no-such-dir/sub/model.cohort");
  EXPECT_FAILS(cohort_model_save(f.model, nullptr, unwritable.c_str()), COHORT_ERROR_IO, "no-such-dir");

  cohort_model* model = nullptr;
  cohort_groups* groups = nullptr;
  EXPECT_FAILS(cohort_model_load(nullptr, &model, nullptr), COHORT_ERROR_INVALID_ARGUMENT, "path");
  EXPECT_FAILS(cohort_model_load(path.c_str(), nullptr, nullptr), COHORT_ERROR_INVALID_ARGUMENT, "out_model");
  const std::string missing = scratch("missing.cohort");
  std::remove(missing.c_str());
  EXPECT_FAILS(cohort_model_load(missing.c_str(), &model, nullptr), COHORT_ERROR_IO, missing);
  const std::string foreign = scratch("foreign.cohort");
  std::ofstream(foreign) << "this is not a model file, just some text that is long enough\n";
  EXPECT_FAILS(cohort_model_load(foreign.c_str(), &model, nullptr), COHORT_ERROR_BAD_INPUT, "foreign.cohort");
  EXPECT_EQ(model, nullptr);

  // Without groups the loaded groups are NULL.
  ASSERT_OK(cohort_model_save(f.model, nullptr, path.c_str()));
  groups = reinterpret_cast<cohort_groups*>(&groups);
  ASSERT_OK(cohort_model_load(path.c_str(), &model, &groups));
  EXPECT_EQ(groups, nullptr);
  cohort_model_free(model);
}

TEST(CapiGroups, DiscoverBadArguments) {
  Fixture f;
  cohort_groups* groups = nullptr;
  cohort_groups_config gc = COHORT_GROUPS_CONFIG_INIT;
  EXPECT_FAILS(cohort_groups_discover(nullptr, f.data, f.model, &gc, &groups), COHORT_ERROR_INVALID_ARGUMENT,
               "context");
  EXPECT_FAILS(cohort_groups_discover(f.ctx, nullptr, f.model, &gc, &groups), COHORT_ERROR_INVALID_ARGUMENT,
               "dataset");
  EXPECT_FAILS(cohort_groups_discover(f.ctx, f.data, nullptr, &gc, &groups), COHORT_ERROR_INVALID_ARGUMENT, "model");
  EXPECT_FAILS(cohort_groups_discover(f.ctx, f.data, f.model, &gc, nullptr), COHORT_ERROR_INVALID_ARGUMENT,
               "out_groups");
  gc.k = 1;
  EXPECT_FAILS(cohort_groups_discover(f.ctx, f.data, f.model, &gc, &groups), COHORT_ERROR_INVALID_ARGUMENT,
               "config->k");
  gc.k = kUsers;
  EXPECT_FAILS(cohort_groups_discover(f.ctx, f.data, f.model, &gc, &groups), COHORT_ERROR_INVALID_ARGUMENT,
               "config->k");
  gc = COHORT_GROUPS_CONFIG_INIT;
  gc.k_min = 5;
  gc.k_max = 3;
  EXPECT_FAILS(cohort_groups_discover(f.ctx, f.data, f.model, &gc, &groups), COHORT_ERROR_INVALID_ARGUMENT, "k_min");
  gc = COHORT_GROUPS_CONFIG_INIT;
  gc.restarts = 0;
  EXPECT_FAILS(cohort_groups_discover(f.ctx, f.data, f.model, &gc, &groups), COHORT_ERROR_INVALID_ARGUMENT,
               "restarts");
  EXPECT_EQ(groups, nullptr);

  // A model of other data.
  const int32_t users[] = {0, 1, 2};
  const int32_t items[] = {0, 1, 1};
  cohort_dataset* other = nullptr;
  ASSERT_OK(cohort_dataset_from_coo(3, 2, 3, users, items, nullptr, &other));
  EXPECT_FAILS(cohort_groups_discover(f.ctx, other, f.model, nullptr, &groups), COHORT_ERROR_INVALID_ARGUMENT,
               "other data");
  cohort_dataset_free(other);
}

TEST(CapiGroups, AccessorsAndAssignBadArguments) {
  Fixture f;
  int k = 0;
  EXPECT_FAILS(cohort_groups_k(nullptr, &k, nullptr), COHORT_ERROR_INVALID_ARGUMENT, "groups");
  EXPECT_FAILS(cohort_groups_k(f.groups, nullptr, nullptr), COHORT_ERROR_INVALID_ARGUMENT, "both NULL");
  ASSERT_OK(cohort_groups_k(f.groups, &k, nullptr));
  EXPECT_EQ(k, 2);

  std::vector<int32_t> group(kUsers);
  std::vector<float> confidence(kUsers);
  EXPECT_FAILS(cohort_groups_assignment(nullptr, group.data(), nullptr, kUsers), COHORT_ERROR_INVALID_ARGUMENT,
               "groups");
  EXPECT_FAILS(cohort_groups_assignment(f.groups, nullptr, nullptr, kUsers), COHORT_ERROR_INVALID_ARGUMENT,
               "both NULL");
  EXPECT_FAILS(cohort_groups_assignment(f.groups, group.data(), confidence.data(), kUsers - 1),
               COHORT_ERROR_INVALID_ARGUMENT, "out_group");

  const int64_t indptr[] = {0, 2, 2};
  const int32_t items[] = {4, 5};
  int32_t out_group[2];
  float out_confidence[2];
  EXPECT_FAILS(cohort_groups_assign(nullptr, f.groups, f.model, 2, indptr, items, nullptr, out_group, out_confidence,
                                    2),
               COHORT_ERROR_INVALID_ARGUMENT, "context");
  EXPECT_FAILS(cohort_groups_assign(f.ctx, nullptr, f.model, 2, indptr, items, nullptr, out_group, out_confidence, 2),
               COHORT_ERROR_INVALID_ARGUMENT, "groups");
  EXPECT_FAILS(cohort_groups_assign(f.ctx, f.groups, nullptr, 2, indptr, items, nullptr, out_group, out_confidence, 2),
               COHORT_ERROR_INVALID_ARGUMENT, "model");
  EXPECT_FAILS(cohort_groups_assign(f.ctx, f.groups, f.model, 2, indptr, items, nullptr, nullptr, nullptr, 2),
               COHORT_ERROR_INVALID_ARGUMENT, "both NULL");
  EXPECT_FAILS(cohort_groups_assign(f.ctx, f.groups, f.model, 2, indptr, items, nullptr, out_group, out_confidence, 1),
               COHORT_ERROR_INVALID_ARGUMENT, "out_group");
  EXPECT_FAILS(cohort_groups_assign(f.ctx, f.groups, f.model, -2, indptr, items, nullptr, out_group, out_confidence,
                                    2),
               COHORT_ERROR_INVALID_ARGUMENT, "n_new");
  ASSERT_OK(cohort_groups_assign(f.ctx, f.groups, f.model, 2, indptr, items, nullptr, out_group, out_confidence, 2));
  EXPECT_GE(out_group[0], 0);
  EXPECT_EQ(out_group[1], -1) << "a user with no items has no group";
  EXPECT_EQ(out_confidence[1], 0.0f);
}

TEST(CapiRecommend, BadArguments) {
  Fixture f;
  const int32_t users[] = {0, 7};
  int32_t items[2 * 3];
  float scores[2 * 3];
  cohort_recommend_config rc = COHORT_RECOMMEND_CONFIG_INIT;
  rc.k = 3;
  EXPECT_FAILS(cohort_recommend(nullptr, f.data, f.model, f.groups, &rc, 2, users, items, scores, 6),
               COHORT_ERROR_INVALID_ARGUMENT, "context");
  EXPECT_FAILS(cohort_recommend(f.ctx, nullptr, f.model, f.groups, &rc, 2, users, items, scores, 6),
               COHORT_ERROR_INVALID_ARGUMENT, "dataset");
  EXPECT_FAILS(cohort_recommend(f.ctx, f.data, nullptr, f.groups, &rc, 2, users, items, scores, 6),
               COHORT_ERROR_INVALID_ARGUMENT, "needs a model");
  rc.kind = "group";
  EXPECT_FAILS(cohort_recommend(f.ctx, f.data, f.model, nullptr, &rc, 2, users, items, scores, 6),
               COHORT_ERROR_INVALID_ARGUMENT, "needs groups");
  rc.kind = "random";
  EXPECT_FAILS(cohort_recommend(f.ctx, f.data, f.model, f.groups, &rc, 2, users, items, scores, 6),
               COHORT_ERROR_INVALID_ARGUMENT, "random");
  rc.kind = nullptr;
  EXPECT_FAILS(cohort_recommend(f.ctx, f.data, f.model, f.groups, &rc, 2, users, items, scores, 6),
               COHORT_ERROR_INVALID_ARGUMENT, "config->kind");
  rc = COHORT_RECOMMEND_CONFIG_INIT;
  rc.k = 0;
  EXPECT_FAILS(cohort_recommend(f.ctx, f.data, f.model, f.groups, &rc, 2, users, items, scores, 6),
               COHORT_ERROR_INVALID_ARGUMENT, "config->k");
  rc.k = 3;
  EXPECT_FAILS(cohort_recommend(f.ctx, f.data, f.model, f.groups, &rc, 0, users, items, scores, 6),
               COHORT_ERROR_INVALID_ARGUMENT, "n_queries");
  EXPECT_FAILS(cohort_recommend(f.ctx, f.data, f.model, f.groups, &rc, 2, nullptr, items, scores, 6),
               COHORT_ERROR_INVALID_ARGUMENT, "users");
  EXPECT_FAILS(cohort_recommend(f.ctx, f.data, f.model, f.groups, &rc, 2, users, nullptr, scores, 6),
               COHORT_ERROR_INVALID_ARGUMENT, "out_items");
  EXPECT_FAILS(cohort_recommend(f.ctx, f.data, f.model, f.groups, &rc, 2, users, items, scores, 5),
               COHORT_ERROR_INVALID_ARGUMENT, "out_items");
  const int32_t bad_users[] = {0, kUsers};
  EXPECT_FAILS(cohort_recommend(f.ctx, f.data, f.model, f.groups, &rc, 2, bad_users, items, scores, 6),
               COHORT_ERROR_INVALID_ARGUMENT, "users[1]");

  const int32_t other_users[] = {0, 1, 2};
  const int32_t other_items[] = {0, 1, 1};
  cohort_dataset* other = nullptr;
  ASSERT_OK(cohort_dataset_from_coo(3, 2, 3, other_users, other_items, nullptr, &other));
  EXPECT_FAILS(cohort_recommend(f.ctx, other, f.model, nullptr, &rc, 2, users, items, scores, 6),
               COHORT_ERROR_INVALID_ARGUMENT, "other data");
  cohort_dataset_free(other);

  ASSERT_OK(cohort_recommend(f.ctx, f.data, f.model, f.groups, &rc, 2, users, items, nullptr, 6));
}

// The items' text: set from memory (or a file), then the "text" recommender and its errors.
TEST(CapiRecommend, TextFromTheDatasetsItemVectors) {
  Fixture f;
  const int32_t users[] = {0, kUsers - 1};
  int32_t items[2];
  cohort_recommend_config rc = COHORT_RECOMMEND_CONFIG_INIT;
  rc.kind = "text";
  rc.k = 1;
  EXPECT_FAILS(cohort_recommend(f.ctx, f.data, nullptr, nullptr, &rc, 2, users, items, nullptr, 2),
               COHORT_ERROR_INVALID_ARGUMENT, "cohort_dataset_set_item_text");
  // Items 0-3 (the first half's) about one topic, 4-7 about another.
  float vectors[kItems * 2];
  for (int i = 0; i < kItems; ++i) {
    vectors[2 * i] = i < 4 ? 2.0f : 0.0f;
    vectors[2 * i + 1] = i < 4 ? 0.0f : 3.0f;
  }
  EXPECT_FAILS(cohort_dataset_set_item_text(f.data, kItems - 1, 2, vectors), COHORT_ERROR_INVALID_ARGUMENT,
               "n_items");
  EXPECT_FAILS(cohort_dataset_set_item_text(f.data, kItems, 0, vectors), COHORT_ERROR_INVALID_ARGUMENT, "dims");
  EXPECT_FAILS(cohort_dataset_set_item_text(f.data, kItems, 2, nullptr), COHORT_ERROR_INVALID_ARGUMENT, "vectors");
  vectors[7] = std::nanf("");
  EXPECT_FAILS(cohort_dataset_set_item_text(f.data, kItems, 2, vectors), COHORT_ERROR_INVALID_ARGUMENT,
               "item text vector 3");
  vectors[7] = 0.0f;
  EXPECT_FAILS(cohort_dataset_item_text_from_file(f.data, "/nonexistent/vectors.csv"), COHORT_ERROR_IO,
               "/nonexistent/vectors.csv");
  ASSERT_OK(cohort_dataset_set_item_text(f.data, kItems, 2, vectors));
  ASSERT_OK(cohort_recommend(f.ctx, f.data, nullptr, nullptr, &rc, 2, users, items, nullptr, 2));
  EXPECT_LT(items[0], 4) << "user 0 read about the first topic";
  EXPECT_GE(items[1], 4) << "the last user about the second";
  // A caller built before text_sharpness existed passes the shorter struct: the default applies.
  rc.struct_size = offsetof(cohort_recommend_config, text_sharpness);
  ASSERT_OK(cohort_recommend(f.ctx, f.data, nullptr, nullptr, &rc, 2, users, items, nullptr, 2));
  rc = COHORT_RECOMMEND_CONFIG_INIT;
  rc.kind = "text";
  rc.text_sharpness = -1.0;
  EXPECT_FAILS(cohort_recommend(f.ctx, f.data, nullptr, nullptr, &rc, 2, users, items, nullptr, 20),
               COHORT_ERROR_INVALID_ARGUMENT, "text_sharpness");
}

TEST(CapiEvaluate, BadArguments) {
  Fixture f;
  size_t needed = 0;
  char buffer[16];
  EXPECT_FAILS(cohort_evaluate(nullptr, f.data, nullptr, nullptr, buffer, sizeof buffer, &needed),
               COHORT_ERROR_INVALID_ARGUMENT, "context");
  EXPECT_FAILS(cohort_evaluate(f.ctx, nullptr, nullptr, nullptr, buffer, sizeof buffer, &needed),
               COHORT_ERROR_INVALID_ARGUMENT, "dataset");
  EXPECT_FAILS(cohort_evaluate(f.ctx, f.data, nullptr, nullptr, buffer, sizeof buffer, nullptr),
               COHORT_ERROR_INVALID_ARGUMENT, "out_needed");
  cohort_model_config mc = COHORT_MODEL_CONFIG_INIT;
  mc.iterations = -1;
  EXPECT_FAILS(cohort_evaluate(f.ctx, f.data, &mc, nullptr, buffer, sizeof buffer, &needed),
               COHORT_ERROR_INVALID_ARGUMENT, "model_config->iterations");
  cohort_groups_config gc = COHORT_GROUPS_CONFIG_INIT;
  gc.max_iterations = 0;
  EXPECT_FAILS(cohort_evaluate(f.ctx, f.data, nullptr, &gc, buffer, sizeof buffer, &needed),
               COHORT_ERROR_INVALID_ARGUMENT, "groups_config->max_iterations");
}

}  // namespace
