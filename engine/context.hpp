// What every engine algorithm runs with: the backend of this worker, its communicator, the
// seed, and where progress goes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "engine/comm/communicator.hpp"
#include "kernels/backend.hpp"

namespace cohort {

// One progress line: phase ("als", "kmeans"), step and total, and a free-form detail
// ("loss 0.0123"). The CLI prints it with elapsed time and ETA; the C API drops it.
struct ProgressEvent {
  std::string phase;
  int64_t step = 0;
  int64_t total = 0;
  std::string detail;
};
using ProgressFn = std::function<void(const ProgressEvent&)>;

struct Context {
  Backend& backend;
  Communicator& comm;
  uint64_t seed = 42;
  int threads = 0;  // host threads for engine-side work; 0 = OpenMP default
  ProgressFn progress;  // may be empty

  void report(const std::string& phase, int64_t step, int64_t total, const std::string& detail = {}) const {
    if (progress) progress({phase, step, total, detail});
  }
};

}  // namespace cohort
