#include "host/cli/progress.hpp"

#include <fmt/format.h>

#include <cstdio>

namespace cohort::cli {

void ProgressPrinter::operator()(const ProgressEvent& event) {
  if (quiet_) return;
  const auto now = Clock::now();
  auto [it, fresh] = phases_.try_emplace(event.phase);
  PhaseState& state = it->second;
  if (fresh || event.step <= state.last_step) {
    state.start = now;  // a new run of this phase (e.g. a second fold-in)
    state.last_print = now - std::chrono::hours(1);
  }
  state.last_step = event.step;
  const bool last = event.total > 0 && event.step >= event.total;
  // At most one line every half second per phase, and always the last step.
  if (!last && now - state.last_print < std::chrono::milliseconds(500)) return;
  state.last_print = now;
  const double elapsed = std::chrono::duration<double>(now - state.start).count();
  std::string eta;
  if (event.total > 0 && event.step > 0 && !last)
    eta = fmt::format("  eta {:.1f}s", elapsed / static_cast<double>(event.step) * static_cast<double>(event.total - event.step));
  std::fputs(fmt::format("[{}] {}/{}{}{}  elapsed {:.1f}s{}\n", event.phase, event.step, event.total,
                         event.detail.empty() ? "" : "  ", event.detail, elapsed, eta)
                 .c_str(),
             stderr);
}

void ProgressPrinter::note(const std::string& text) const {
  if (!quiet_) std::fputs((text + "\n").c_str(), stderr);
}

}  // namespace cohort::cli
