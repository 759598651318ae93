// The namespaces of the CUDA backend's code. Compiled for the CPU emulation of the device
// (COHORT_CUDA_EMULATION, tests/CMakeLists.txt), all of it, kernels, launchers and entry
// points, moves into inline namespaces named `emulated`: the code keeps its names
// (cuda::als_cg_kernel, make_cuda_backend) but its symbols differ, so a test links the
// emulated backend beside the library's real one (the engine links the real one when CUDA is on).
#pragma once

#ifdef COHORT_CUDA_EMULATION
#define COHORT_CUDA_NAMESPACE_BEGIN \
  namespace cohort::cuda {          \
  inline namespace emulated {
#define COHORT_CUDA_NAMESPACE_END \
  }                               \
  }
#define COHORT_CUDA_ENTRY_NAMESPACE_BEGIN \
  namespace cohort {                      \
  inline namespace emulated {
#define COHORT_CUDA_ENTRY_NAMESPACE_END \
  }                                     \
  }
#else
#define COHORT_CUDA_NAMESPACE_BEGIN namespace cohort::cuda {
#define COHORT_CUDA_NAMESPACE_END }
#define COHORT_CUDA_ENTRY_NAMESPACE_BEGIN namespace cohort {
#define COHORT_CUDA_ENTRY_NAMESPACE_END }
#endif
