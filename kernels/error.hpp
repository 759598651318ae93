// cohort::Error and the checking macros every layer uses.
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace cohort {

// Status codes shared with the C API (include/cohort/cohort.h mirrors these values).
enum class Status : int {
  ok = 0,
  invalid_argument = 1,  // bad usage: a parameter out of range, a wrong shape
  bad_input = 2,         // bad data: a malformed file, a corrupted cache
  io_error = 3,          // a file could not be opened, read or written
  out_of_memory = 4,
  backend_error = 5,     // a CUDA/cuBLAS/NCCL call failed
  internal = 6,
};

class Error : public std::runtime_error {
 public:
  Error(Status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  Status status() const noexcept { return status_; }

 private:
  Status status_;
};

}  // namespace cohort

// User-facing check: throws cohort::Error(invalid_argument) with a formatted message.
#define COHORT_CHECK(cond, ...)                                                        \
  do {                                                                                 \
    if (!(cond)) throw ::cohort::Error(::cohort::Status::invalid_argument,             \
                                       ::fmt::format(__VA_ARGS__));                    \
  } while (0)

// Same, with an explicit status.
#define COHORT_CHECK_STATUS(cond, status, ...)                                         \
  do {                                                                                 \
    if (!(cond)) throw ::cohort::Error((status), ::fmt::format(__VA_ARGS__));          \
  } while (0)

#define COHORT_FAIL(status, ...) throw ::cohort::Error((status), ::fmt::format(__VA_ARGS__))
