// cohort_bench's main: Google Benchmark's, after taking the CPU's fastest OpenBLAS kernels
// (blas_kernels.hpp), so the CPU rows measure what the CPU can do.
#include <benchmark/benchmark.h>

#include "kernels/cpu/blas_kernels.hpp"

int main(int argc, char** argv) {
  cohort::cpu::reexec_with_faster_blas(argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
