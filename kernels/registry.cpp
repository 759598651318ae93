#include "kernels/registry.hpp"

#include <charconv>

#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/error.hpp"
#ifdef COHORT_WITH_CUDA
#include "kernels/cuda/cuda_backend.hpp"
#endif

namespace cohort {

bool cuda_compiled() {
#ifdef COHORT_WITH_CUDA
  return true;
#else
  return false;
#endif
}

int cuda_device_count() {
#ifdef COHORT_WITH_CUDA
  return cuda_visible_devices();
#else
  return 0;
#endif
}

std::vector<std::string> cuda_device_descriptions() {
#ifdef COHORT_WITH_CUDA
  return cuda_describe_devices();
#else
  return {};
#endif
}

std::unique_ptr<Backend> make_backend(const std::string& kind, const BackendOptions& options) {
  if (kind == "cpu") return make_cpu_backend(options.threads);
  if (kind == "auto") {
    if (cuda_device_count() > 0) return make_backend("cuda", options);
    return make_cpu_backend(options.threads);
  }
  if (kind == "cuda" || kind.rfind("cuda:", 0) == 0) {
    int device = 0;
    if (kind.size() > 5) {
      const char* begin = kind.data() + 5;
      auto [end, ec] = std::from_chars(begin, kind.data() + kind.size(), device);
      COHORT_CHECK(ec == std::errc() && end == kind.data() + kind.size() && device >= 0,
                   "backend '{}': expected cuda:N with N a device number", kind);
    }
    COHORT_CHECK_STATUS(cuda_compiled(), Status::backend_error,
                        "backend '{}': this build of cohort has no CUDA backend", kind);
    int count = cuda_device_count();
    COHORT_CHECK_STATUS(count > 0, Status::backend_error,
                        "backend '{}': no usable GPU (no NVIDIA driver or no device visible); use --backend cpu", kind);
    COHORT_CHECK_STATUS(device < count, Status::backend_error, "backend '{}': only {} GPU(s) visible", kind, count);
#ifdef COHORT_WITH_CUDA
    return make_cuda_backend(device, options.tf32);
#endif
  }
  COHORT_FAIL(Status::invalid_argument, "unknown backend '{}': expected auto, cpu, cuda or cuda:N", kind);
}

}  // namespace cohort
