// cohort_dataset: interactions from COO arrays or from a file.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

#include "engine/data/items.hpp"
#include "engine/data/read.hpp"
#include "host/capi/handles.hpp"

using namespace cohort;
using namespace cohort::capi;

namespace {

const char* id_at(const std::vector<std::string>& ids, int64_t index, const char* what) {
  COHORT_CHECK(index >= 0 && index < static_cast<int64_t>(ids.size()), "{} {} is outside 0..{}", what, index,
               static_cast<int64_t>(ids.size()) - 1);
  return ids[static_cast<std::size_t>(index)].c_str();
}

std::atomic<uint64_t> next_serial{1};

std::vector<std::string> decimal_ids(int64_t n) {
  std::vector<std::string> ids(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) ids[static_cast<std::size_t>(i)] = std::to_string(i);
  return ids;
}

}  // namespace

std::unique_ptr<cohort_dataset> cohort::capi::new_dataset() {
  auto dataset = std::make_unique<cohort_dataset>();
  dataset->serial = next_serial.fetch_add(1);
  return dataset;
}

extern "C" {

cohort_status cohort_dataset_from_coo(int64_t n_users, int64_t n_items, int64_t nnz, const int32_t* users,
                                      const int32_t* items, const float* values, cohort_dataset** out_dataset) {
  return guarded(__func__, [&] {
    cohort_dataset** out = &require(out_dataset, "out_dataset");
    constexpr int64_t kMaxIndex = std::numeric_limits<int32_t>::max();
    COHORT_CHECK(n_users >= 1 && n_users <= kMaxIndex, "n_users is {}, expected 1..{}", n_users, kMaxIndex);
    COHORT_CHECK(n_items >= 1 && n_items <= kMaxIndex, "n_items is {}, expected 1..{}", n_items, kMaxIndex);
    COHORT_CHECK(nnz >= 0, "nnz is {}, expected >= 0", nnz);
    if (nnz > 0) {
      require(users, "users");
      require(items, "items");
    }
    const auto n = static_cast<std::size_t>(nnz);
    std::vector<int32_t> row(users, users + n);
    std::vector<int32_t> col(items, items + n);
    std::vector<float> value(n, 1.0f);
    if (values != nullptr) value.assign(values, values + n);
    for (std::size_t e = 0; e < n; ++e) {
      COHORT_CHECK(row[e] >= 0 && row[e] < n_users, "users[{}] is {}, outside 0..{}", e, row[e], n_users - 1);
      COHORT_CHECK(col[e] >= 0 && col[e] < n_items, "items[{}] is {}, outside 0..{}", e, col[e], n_items - 1);
      COHORT_CHECK(std::isfinite(value[e]), "values[{}] is {}, expected a finite number", e, value[e]);
    }
    auto dataset = new_dataset();
    Interactions& data = dataset->data;
    data.user_items = Csr::from_triplets(n_users, n_items, row, col, value);
    data.duplicates_merged = nnz - data.nnz();
    data.user_ids = decimal_ids(n_users);
    data.item_ids = decimal_ids(n_items);
    *out = dataset.release();
  });
}

cohort_status cohort_dataset_set_item_text(cohort_dataset* dataset, int64_t n_items, int32_t dims,
                                           const float* vectors) {
  return guarded(__func__, [&] {
    cohort_dataset& d = require(dataset, "dataset");
    COHORT_CHECK(n_items == d.data.items(), "n_items is {}, the dataset has {} items", n_items, d.data.items());
    COHORT_CHECK(dims >= 1, "dims is {}, expected >= 1", dims);
    require(vectors, "vectors");
    Matrix m(n_items, dims);
    std::copy(vectors, vectors + n_items * dims, m.data.begin());
    set_item_text_vectors(std::move(m), d.catalog);
    d.serial = next_serial.fetch_add(1);  // a cached evaluation of the dataset no longer applies
  });
}

cohort_status cohort_dataset_item_text_from_file(cohort_dataset* dataset, const char* path) {
  return guarded(__func__, [&] {
    cohort_dataset& d = require(dataset, "dataset");
    ItemCatalog catalog;
    read_item_text_vectors(require_string(path, "path"), d.data.item_ids, catalog);
    d.catalog.text_vectors = std::move(catalog.text_vectors);
    d.catalog.items_with_text = catalog.items_with_text;
    d.serial = next_serial.fetch_add(1);
  });
}

cohort_status cohort_dataset_from_file(const char* path, const cohort_read_options* options,
                                       cohort_dataset** out_dataset) {
  return guarded(__func__, [&] {
    cohort_dataset** out = &require(out_dataset, "out_dataset");
    const std::string file = require_string(path, "path");
    const cohort_read_options defaults = COHORT_READ_OPTIONS_INIT;
    const cohort_read_options o = read_config(options, defaults, sizeof(cohort_read_options), "options");
    ReadOptions read;
    read.format = parse_input_format(require_string(o.format, "options->format"));
    read.delimiter = o.delimiter;
    read.header = o.header != 0;
    read.user_column = o.user_column;
    read.item_column = o.item_column;
    read.value_column = o.value_column;
    read.timestamp_column = o.timestamp_column;
    read.skip_bad_lines = o.skip_bad_lines != 0;
    read.duplicates = parse_duplicate_rule(require_string(o.duplicates, "options->duplicates"));
    COHORT_CHECK(read.user_column >= 0 && read.item_column >= 0,
                 "options->user_column ({}) and options->item_column ({}) must be >= 0", read.user_column,
                 read.item_column);
    auto dataset = new_dataset();
    dataset->data = read_interactions(file, read);
    *out = dataset.release();
  });
}

cohort_status cohort_dataset_shape(const cohort_dataset* dataset, int64_t* out_users, int64_t* out_items,
                                   int64_t* out_nnz) {
  return guarded(__func__, [&] {
    const Interactions& data = require(dataset, "dataset").data;
    COHORT_CHECK(out_users || out_items || out_nnz, "out_users, out_items and out_nnz are all NULL");
    if (out_users) *out_users = data.users();
    if (out_items) *out_items = data.items();
    if (out_nnz) *out_nnz = data.nnz();
  });
}

cohort_status cohort_dataset_user_id(const cohort_dataset* dataset, int64_t user, const char** out_id) {
  return guarded(__func__, [&] {
    const Interactions& data = require(dataset, "dataset").data;
    const char** out = &require(out_id, "out_id");
    *out = id_at(data.user_ids, user, "user");
  });
}

cohort_status cohort_dataset_item_id(const cohort_dataset* dataset, int64_t item, const char** out_id) {
  return guarded(__func__, [&] {
    const Interactions& data = require(dataset, "dataset").data;
    const char** out = &require(out_id, "out_id");
    *out = id_at(data.item_ids, item, "item");
  });
}

void cohort_dataset_free(cohort_dataset* dataset) { delete dataset; }

}  // extern "C"
