// The last error, status names, version, and the argument checks shared by the entry points.
#include <cmath>
#include <limits>

#include "host/capi/handles.hpp"

namespace cohort::capi {
namespace {

// cohort_status mirrors cohort::Status so that guarded() can cast one to the other.
static_assert(COHORT_OK == static_cast<int>(Status::ok));
static_assert(COHORT_ERROR_INVALID_ARGUMENT == static_cast<int>(Status::invalid_argument));
static_assert(COHORT_ERROR_BAD_INPUT == static_cast<int>(Status::bad_input));
static_assert(COHORT_ERROR_IO == static_cast<int>(Status::io_error));
static_assert(COHORT_ERROR_OUT_OF_MEMORY == static_cast<int>(Status::out_of_memory));
static_assert(COHORT_ERROR_BACKEND == static_cast<int>(Status::backend_error));
static_assert(COHORT_ERROR_INTERNAL == static_cast<int>(Status::internal));

thread_local std::string last_error;

}  // namespace

cohort_status fail(cohort_status status, const char* function, const char* message) noexcept {
  try {
    last_error = std::string(function) + ": " + message;
  } catch (...) {
    // No memory for the message: leave it empty rather than throw across the boundary.
    last_error.clear();
  }
  return status;
}

std::string require_string(const char* text, const std::string& name) {
  COHORT_CHECK(text != nullptr, "{} is NULL", name);
  return text;
}

void check_capacity(std::size_t capacity, int64_t needed, const char* name) {
  COHORT_CHECK(static_cast<uint64_t>(needed) <= capacity, "{} holds {} elements, {} are needed", name, capacity,
               needed);
}

void write_text(const std::string& text, char* out, std::size_t capacity, std::size_t* needed, const char* name) {
  std::size_t& size = require(needed, "out_needed");
  size = text.size() + 1;
  if (capacity < size)
    throw CapiError(COHORT_ERROR_BUFFER_TOO_SMALL,
                    fmt::format("{} holds {} bytes, {} are needed", name, capacity, text.size() + 1));
  require(out, name);
  std::memcpy(out, text.c_str(), text.size() + 1);
}

Csr rows_from_c(int64_t n_rows, const int64_t* indptr, const int32_t* items, const float* values, int64_t n_items) {
  COHORT_CHECK(n_rows >= 1 && n_rows <= std::numeric_limits<int32_t>::max(), "n_new is {}, expected 1..{}", n_rows,
               std::numeric_limits<int32_t>::max());
  require(indptr, "indptr");
  COHORT_CHECK(indptr[0] == 0, "indptr[0] is {}, expected 0", indptr[0]);
  for (int64_t r = 0; r < n_rows; ++r)
    COHORT_CHECK(indptr[r + 1] >= indptr[r], "indptr decreases at {}: {} then {}", r + 1, indptr[r], indptr[r + 1]);
  const int64_t nnz = indptr[n_rows];
  if (nnz > 0) require(items, "items");
  std::vector<int32_t> row(static_cast<std::size_t>(nnz));
  std::vector<int32_t> col(items, items + nnz);
  std::vector<float> value(static_cast<std::size_t>(nnz), 1.0f);
  if (values != nullptr) value.assign(values, values + nnz);
  for (int64_t r = 0; r < n_rows; ++r) {
    for (int64_t p = indptr[r]; p < indptr[r + 1]; ++p) {
      const auto e = static_cast<std::size_t>(p);
      COHORT_CHECK(col[e] >= 0 && col[e] < n_items, "items[{}] is {}, outside 0..{}", p, col[e], n_items - 1);
      COHORT_CHECK(std::isfinite(value[e]), "values[{}] is {}, expected a finite number", p, value[e]);
      row[e] = static_cast<int32_t>(r);
    }
  }
  return Csr::from_triplets(n_rows, n_items, row, col, value);
}

void check_model_matches(const cohort_model& model, const Interactions& data) {
  COHORT_CHECK(model.users() == data.users() && model.items() == data.items() && model.user_ids == data.user_ids &&
                   model.item_ids == data.item_ids,
               "the model was trained on other data ({} users x {} items) than the dataset ({} x {})", model.users(),
               model.items(), data.users(), data.items());
}

}  // namespace cohort::capi

extern "C" {

const char* cohort_version(void) { return COHORT_VERSION; }

const char* cohort_last_error(void) { return cohort::capi::last_error.c_str(); }

const char* cohort_status_name(cohort_status status) {
  switch (status) {
    case COHORT_OK: return "ok";
    case COHORT_ERROR_INVALID_ARGUMENT: return "invalid_argument";
    case COHORT_ERROR_BAD_INPUT: return "bad_input";
    case COHORT_ERROR_IO: return "io_error";
    case COHORT_ERROR_OUT_OF_MEMORY: return "out_of_memory";
    case COHORT_ERROR_BACKEND: return "backend_error";
    case COHORT_ERROR_INTERNAL: return "internal";
    case COHORT_ERROR_BUFFER_TOO_SMALL: return "buffer_too_small";
  }
  return "unknown";
}

}  // extern "C"
