#include "kernels/cpu/blas_kernels.hpp"

#include <strings.h>
#include <unistd.h>

#include <cstdlib>
#include <utility>

extern "C" char* openblas_get_corename(void);

namespace cohort::cpu {
namespace {

// The best kernel set this CPU and its operating system run, with its level.
std::pair<const char*, int> native_kernels() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return {"SkylakeX", 3};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return {"Haswell", 2};
#endif
  return {nullptr, -1};
}

}  // namespace

int blas_kernel_level(const std::string& name) {
  struct Ranked {
    const char* name;
    int level;
  };
  static constexpr Ranked kRanked[] = {
      {"Katmai", 0},         {"Coppermine", 0},  {"Northwood", 0},     {"Prescott", 0},   {"Banias", 0},
      {"Atom", 0},           {"Core2", 0},       {"Penryn", 0},        {"Dunnington", 0}, {"Nehalem", 0},
      {"Athlon", 0},         {"Opteron", 0},     {"Opteron(SSE3)", 0}, {"Barcelona", 0},  {"Nano", 0},
      {"Bobcat", 0},         {"Sandybridge", 1}, {"Bulldozer", 1},     {"Piledriver", 1}, {"Steamroller", 1},
      {"Haswell", 2},        {"Excavator", 2},   {"Zen", 2},           {"SkylakeX", 3},   {"Cooperlake", 3},
      {"SapphireRapids", 3},
  };
  for (const Ranked& r : kRanked)
    if (strcasecmp(name.c_str(), r.name) == 0) return r.level;
  return -1;
}

std::string blas_kernels() {
  const char* name = openblas_get_corename();
  return name != nullptr ? std::string(name) : std::string("unknown");
}

std::string faster_blas_kernels() {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return {};
  const char* loaded = openblas_get_corename();
  if (loaded == nullptr) return {};
  const int loaded_level = blas_kernel_level(loaded);
  const auto [native, native_level] = native_kernels();
  if (native == nullptr || loaded_level < 0 || native_level <= loaded_level) return {};
  return native;
}

void reexec_with_faster_blas(char** argv) {
  const std::string faster = faster_blas_kernels();
  if (faster.empty()) return;
  // Set before exec, so the new image cannot pick again: no loop even when OpenBLAS ignores it.
  if (setenv("OPENBLAS_CORETYPE", faster.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);
  // exec failed (no /proc, say): carry on with the loaded kernels.
  unsetenv("OPENBLAS_CORETYPE");
}

}  // namespace cohort::cpu
