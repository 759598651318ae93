// parallel_for(n, body): body(i) for i in [0, n) over the OpenMP threads, for host-side work
// whose iterations are independent. An exception may not leave an OpenMP loop (the program
// would end), so the first one thrown, by index, is caught and thrown again after the loop.
#pragma once

#include <cstdint>
#include <exception>
#include <vector>

namespace cohort {

template <class Body>
void parallel_for(int64_t n, Body body) {
  std::vector<std::exception_ptr> failed(static_cast<size_t>(n > 0 ? n : 0));
#pragma omp parallel for schedule(dynamic)
  for (int64_t i = 0; i < n; ++i) {
    try {
      body(i);
    } catch (...) {
      failed[static_cast<size_t>(i)] = std::current_exception();
    }
  }
  for (const auto& e : failed)
    if (e) std::rethrow_exception(e);
}

}  // namespace cohort
