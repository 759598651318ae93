// The CPU backend: OpenMP + BLAS, the reference every other backend is checked against.
#pragma once

#include <memory>

#include "kernels/backend.hpp"

namespace cohort {

// threads: OpenMP threads for this backend's operations; 0 = OpenMP's default.
std::unique_ptr<Backend> make_cpu_backend(int threads);

}  // namespace cohort
