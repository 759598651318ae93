// COHORT_CUDA_TRACE=1: the CUDA backend waits for every operation to finish and adds its wall
// time up per operation; the table goes to stderr when the backend is destroyed. It answers
// where a GPU run's time goes (which kernels, the copies, or the host between operations),
// which the pipeline's step timings cannot split. It serialises host and device, so a traced
// run is a little slower than a plain one.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace cohort {

class OpTrace {
 public:
  using Clock = std::chrono::steady_clock;

  OpTrace() : enabled_(std::getenv("COHORT_CUDA_TRACE") != nullptr), created_(Clock::now()) {}

  bool enabled() const { return enabled_; }

  void add(const char* op, double seconds) {
    auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.op == op; });
    if (it == entries_.end()) {
      entries_.push_back({op, 0, 0.0, seconds});
      it = entries_.end() - 1;
    }
    ++it->calls;
    it->total += seconds;
  }

  // Operations by total time; "first" apart because a first call also loads its kernels.
  void print(std::FILE* out) const {
    if (!enabled_) return;
    std::vector<Entry> sorted = entries_;
    std::sort(sorted.begin(), sorted.end(), [](const Entry& a, const Entry& b) { return a.total > b.total; });
    double in_ops = 0.0;
    for (const Entry& e : sorted) in_ops += e.total;
    const double alive = std::chrono::duration<double>(Clock::now() - created_).count();
    std::fprintf(out, "cuda trace: %.1f ms in backend operations, %.1f ms elsewhere while the backend lived\n",
                 1e3 * in_ops, 1e3 * (alive - in_ops));
    std::fprintf(out, "%-22s %8s %12s %12s %14s\n", "operation", "calls", "total ms", "first ms", "mean rest ms");
    for (const Entry& e : sorted)
      std::fprintf(out, "%-22s %8lld %12.2f %12.2f %14.3f\n", e.op.c_str(), static_cast<long long>(e.calls),
                   1e3 * e.total, 1e3 * e.first,
                   e.calls > 1 ? 1e3 * (e.total - e.first) / static_cast<double>(e.calls - 1) : 0.0);
  }

 private:
  struct Entry {
    std::string op;
    int64_t calls;
    double total;
    double first;
  };
  bool enabled_;
  Clock::time_point created_;
  std::vector<Entry> entries_;
};

}  // namespace cohort
