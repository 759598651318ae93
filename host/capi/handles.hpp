// The C API's handles and the helpers every entry point uses: the guard that turns exceptions
// into a status and a thread-local message, and the checks on pointers, sizes and configs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <omp.h>

#include "cohort/cohort.h"
#include "engine/comm/communicator.hpp"
#include "engine/context.hpp"
#include "engine/data/interactions.hpp"
#include "engine/data/items.hpp"
#include "engine/embed/embed.hpp"
#include "engine/groups/groups.hpp"
#include "host/workers.hpp"
#include "kernels/backend.hpp"
#include "kernels/error.hpp"

struct cohort_context {
  cohort::Workers workers;
  std::string backend_name;
  uint64_t seed = 42;
  int threads = 0;
  // A metrics.json that did not fit the caller's buffer, kept for the retry: its timings make
  // a rerun's text differ in length, and the rerun would repeat the whole evaluation.
  std::string pending_evaluation_key;
  std::string pending_evaluation;

  // f(context) on every worker (SPMD): the engine shards what it can, and every worker runs
  // the rest whole; worker 0's result. Progress is dropped: the C API has no channel for it.
  template <class F>
  std::invoke_result_t<F, const cohort::Context&> sharded(F f) {
    std::invoke_result_t<F, const cohort::Context&> result{};
    workers.run([&](int worker) {
      const auto w = static_cast<size_t>(worker);
      // The engine's own OpenMP loops take the worker's threads, as its CPU backend does; the
      // caller's thread (worker 0's) gets its setting back.
      const int saved = omp_get_max_threads();
      if (workers.threads_each > 0) omp_set_num_threads(workers.threads_each);
      struct Restore {
        int threads;
        ~Restore() { omp_set_num_threads(threads); }
      } restore{saved};
      auto mine = f(cohort::Context{*workers.backends[w], *workers.comms[w], seed, threads, {}});
      if (worker == 0) result = std::move(mine);
    });
    return result;
  }
};

struct cohort_dataset {
  cohort::Interactions data;
  cohort::ItemCatalog catalog;  // the items' text vectors, when given
  uint64_t serial = 0;  // unique per dataset created in this process (addresses get reused)
};

// What a trained model carries besides its factors: the ids it was trained on (to check a
// dataset or groups against it) and the item popularity (saved for the CLI's fallback).
struct cohort_model {
  cohort::EmbedConfig config;
  cohort::Embeddings embeddings;
  std::vector<std::string> user_ids;
  std::vector<std::string> item_ids;
  std::vector<float> popularity;

  int64_t users() const { return embeddings.users.rows; }
  int64_t items() const { return embeddings.items.rows; }
  int factors() const { return static_cast<int>(embeddings.users.cols); }
};

struct cohort_groups {
  cohort::Groups groups;
  cohort::Matrix group_scores;  // k x items, saved with the model

  int64_t users() const { return static_cast<int64_t>(groups.assignment.size()); }
};

namespace cohort::capi {

// A failure that exists only at the C boundary (cohort::Status has no counterpart).
class CapiError : public std::runtime_error {
 public:
  CapiError(cohort_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  cohort_status status() const noexcept { return status_; }

 private:
  cohort_status status_;
};

// Records "function: message" as this thread's last error and returns status. Never throws.
cohort_status fail(cohort_status status, const char* function, const char* message) noexcept;

// Runs body, mapping every exception to a status and a message prefixed with the function name.
template <class Body>
cohort_status guarded(const char* function, Body&& body) noexcept {
  try {
    body();
    return COHORT_OK;
  } catch (const CapiError& e) {
    return fail(e.status(), function, e.what());
  } catch (const Error& e) {
    return fail(static_cast<cohort_status>(e.status()), function, e.what());
  } catch (const std::bad_alloc&) {
    return fail(COHORT_ERROR_OUT_OF_MEMORY, function, "out of memory");
  } catch (const std::exception& e) {
    return fail(COHORT_ERROR_INTERNAL, function, e.what());
  } catch (...) {
    return fail(COHORT_ERROR_INTERNAL, function, "unknown exception");
  }
}

template <class T>
T& require(T* pointer, const char* name) {
  COHORT_CHECK(pointer != nullptr, "{} is NULL", name);
  return *pointer;
}

// A config struct of the caller: NULL gives defaults; otherwise struct_size must lie between
// the size of the struct's first version and the size this library knows, and the fields the
// caller's version has are copied over the defaults.
template <class T>
T read_config(const T* in, const T& defaults, std::size_t first_version_size, const char* name) {
  if (in == nullptr) return defaults;
  COHORT_CHECK(in->struct_size >= first_version_size && in->struct_size <= sizeof(T),
               "{}->struct_size is {}, expected {} (initialise the struct with its _INIT macro)", name,
               in->struct_size, sizeof(T));
  T out = defaults;
  std::memcpy(static_cast<void*>(&out), static_cast<const void*>(in), in->struct_size);
  out.struct_size = sizeof(T);
  return out;
}

// A required string field of a config.
std::string require_string(const char* text, const std::string& name);

// Checks that an output array of `capacity` elements can take `needed`.
void check_capacity(std::size_t capacity, int64_t needed, const char* name);

// Copies text and its NUL into a caller buffer of capacity bytes, setting *needed;
// COHORT_ERROR_BUFFER_TOO_SMALL (nothing written) when it does not fit.
void write_text(const std::string& text, char* out, std::size_t capacity, std::size_t* needed, const char* name);

// Users given as CSR rows (cohort_model_fold_in, cohort_groups_assign) into a sorted,
// deduplicated Csr over n_items columns; every array and index is checked.
Csr rows_from_c(int64_t n_rows, const int64_t* indptr, const int32_t* items, const float* values, int64_t n_items);

// A fresh cohort_dataset with its serial number.
std::unique_ptr<cohort_dataset> new_dataset();

// Throws Error(invalid_argument) unless model was trained on dataset's users and items.
void check_model_matches(const cohort_model& model, const Interactions& data);

}  // namespace cohort::capi
