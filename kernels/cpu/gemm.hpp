// BLAS with an explicit thread count, for the CPU kernels that parallelise around a product.
//
// OpenBLAS (pthread build) and OpenMP keep separate thread pools, and each pool's idle
// threads spin for a while before they sleep (OpenBLAS's with sched_yield). An operation that
// alternates a threaded GEMM with an OpenMP loop leaves one pool spinning on the cores the
// other needs: on 2 cores the k-means sweep ran no faster on 2 threads than on 1. So there is
// one pool: OpenBLAS always runs on one thread, and a GEMM is parallelised by OpenMP, the
// longer dimension of c cut into one block per thread, each a single-threaded BLAS call.
#pragma once

#include "kernels/views.hpp"

namespace cohort::cpu {

// gemm_nt (kernels/backend.hpp) on up to `threads` OpenMP threads (products under about a
// millisecond of work stay on the calling thread). Inside a parallel region it runs on the
// calling thread.
void gemm_nt_on(int threads, float alpha, MatrixView<const float> a, MatrixView<const float> b, float beta,
                MatrixView<float> c);

}  // namespace cohort::cpu
