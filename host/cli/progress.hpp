// Progress lines on stderr: phase, step/total, detail, elapsed and ETA.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "engine/context.hpp"

namespace cohort::cli {

class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool quiet) : quiet_(quiet) {}
  void operator()(const ProgressEvent& event);
  // A one-line note ("reading ratings.csv"), unless quiet.
  void note(const std::string& text) const;

 private:
  using Clock = std::chrono::steady_clock;
  struct PhaseState {
    Clock::time_point start;
    Clock::time_point last_print;
    int64_t last_step = 0;
  };
  bool quiet_;
  std::map<std::string, PhaseState> phases_;
};

}  // namespace cohort::cli
