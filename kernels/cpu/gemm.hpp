// BLAS with an explicit thread count, for the CPU kernels that parallelise around a product.
//
// OpenBLAS (pthread build) and OpenMP keep separate thread pools, and each pool's idle
// threads spin for a while before they sleep. An operation that alternates a threaded GEMM
// with an OpenMP loop leaves one pool spinning on the cores the other needs; on few cores
// that can cost more than the parallelism gains. Such operations run their GEMM on the
// calling thread and parallelise the rest with OpenMP.
#pragma once

#include "kernels/views.hpp"

namespace cohort::cpu {

// gemm_nt (kernels/backend.hpp) on `threads` BLAS threads; never from inside an OpenMP
// parallel region.
void gemm_nt_on(int threads, float alpha, MatrixView<const float> a, MatrixView<const float> b, float beta,
                MatrixView<float> c);

}  // namespace cohort::cpu
