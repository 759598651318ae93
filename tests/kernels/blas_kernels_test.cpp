// The OpenBLAS kernel choice (kernels/cpu/blas_kernels.hpp): ranking by vector width, and
// leaving a user's OPENBLAS_CORETYPE alone.
#include "kernels/cpu/blas_kernels.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace cohort::cpu {
namespace {

TEST(BlasKernels, RanksKernelSetsByVectorWidth) {
  EXPECT_EQ(blas_kernel_level("Prescott"), 0);
  EXPECT_EQ(blas_kernel_level("Nehalem"), 0);
  EXPECT_EQ(blas_kernel_level("Sandybridge"), 1);
  EXPECT_EQ(blas_kernel_level("Haswell"), 2);
  EXPECT_EQ(blas_kernel_level("Zen"), 2);
  EXPECT_EQ(blas_kernel_level("SkylakeX"), 3);
  EXPECT_EQ(blas_kernel_level("SapphireRapids"), 3);
  EXPECT_EQ(blas_kernel_level("skylakex"), 3) << "OpenBLAS matches OPENBLAS_CORETYPE without case";
  EXPECT_EQ(blas_kernel_level("ARMV8"), -1);
  EXPECT_EQ(blas_kernel_level(""), -1);
}

TEST(BlasKernels, NamesTheLoadedSet) { EXPECT_FALSE(blas_kernels().empty()); }

TEST(BlasKernels, OffersOnlyAFasterSet) {
  const std::string faster = faster_blas_kernels();
  if (faster.empty()) GTEST_SKIP() << "OpenBLAS already runs " << blas_kernels() << ", this CPU's best";
  EXPECT_GT(blas_kernel_level(faster), blas_kernel_level(blas_kernels()));
}

TEST(BlasKernels, LeavesTheUsersChoiceAlone) {
  const char* before = std::getenv("OPENBLAS_CORETYPE");
  const std::string saved = before != nullptr ? before : "";
  setenv("OPENBLAS_CORETYPE", "Prescott", 1);
  EXPECT_EQ(faster_blas_kernels(), "");
  if (before != nullptr)
    setenv("OPENBLAS_CORETYPE", saved.c_str(), 1);
  else
    unsetenv("OPENBLAS_CORETYPE");
}

}  // namespace
}  // namespace cohort::cpu
