// Which of OpenBLAS's kernel sets runs the CPU backend's GEMMs, and whether this CPU could
// run a faster one.
//
// OpenBLAS picks its kernels once, when the library loads, from the CPU's family and model.
// A model newer than the OpenBLAS build (Debian 12's 0.3.21 does not know Emerald Rapids, for
// one) falls back to the SSE3 "Prescott" kernels, and every GEMM runs at half speed or worse:
// the default pipeline's groups phase took 4.0 s instead of 1.2 s on such a machine. The
// choice can only be changed by OPENBLAS_CORETYPE before the library loads, so a program
// that owns its process (the CLI, the benchmarks) re-executes itself with it set, and a
// library user is told in the backend's description.
#pragma once

#include <string>

namespace cohort::cpu {

// OpenBLAS's name for the kernels it loaded ("SkylakeX", "Haswell", "Prescott", ...).
std::string blas_kernels();

// Vector width of an OpenBLAS x86 kernel set, by its name (any case): 0 SSE, 1 AVX, 2 AVX2
// and FMA, 3 AVX-512; -1 for a name not ranked (another architecture, a newer OpenBLAS).
int blas_kernel_level(const std::string& name);

// The kernel set this CPU's instruction set runs ("SkylakeX" with AVX-512, "Haswell" with
// AVX2 and FMA) when it is faster than the loaded one and OPENBLAS_CORETYPE is unset; empty
// otherwise, including for kernel names this code does not rank.
std::string faster_blas_kernels();

// In main(), before any work: when faster_blas_kernels() names a set, sets
// OPENBLAS_CORETYPE to it and re-executes the program with the same arguments. Returns
// (carrying on with the loaded kernels) when there is nothing to gain or exec fails.
void reexec_with_faster_blas(char** argv);

}  // namespace cohort::cpu
