// The Communicator over MPI: one rank per process, started by mpiexec, mpirun or srun (one
// process per GPU across machines). The engine needs every rank to end bitwise identical, and
// MPI does not promise that of its floating-point reductions (the order they sum in is theirs
// and may differ between ranks), so reductions gather every rank's contribution and each rank
// sums them itself in rank order (floats in double, rounded once), as the thread communicator
// does: the same bits on every rank, whatever MPI's algorithm, message sizes or rank count.
// Buffers of an on-device backend pass through host memory; a host backend's are sent as they
// are. Counts above MPI's int are sent in several messages.
#pragma once

#include <memory>

#include "engine/comm/communicator.hpp"

namespace cohort {

// Whether this build holds MPI (CMake found it: COHORT_WITH_MPI, libmpich-dev on Debian).
bool mpi_compiled();

// What the launcher (mpiexec or mpirun of MPICH or Open MPI, srun) told this process in its
// environment, read without any MPI call, so that a process can decide whether to start MPI
// at all, and take its GPU, before it does. Without a launcher: one process, rank 0.
struct LaunchPlace {
  int world_size = 1;  // processes of the run
  int rank = 0;        // this process's rank among them
  int local_rank = 0;  // its rank among the processes of its machine
};
LaunchPlace launch_place();

// The ranks of MPI_COMM_WORLD. Initialises MPI on the first call (MPI_THREAD_SERIALIZED: any
// thread may call the communicators, one at a time) and finalises it at process exit;
// an MPI the program initialised itself is used as it is and left to the program to finalise.
// Without a launcher, MPI starts this process as a single rank. Errors of MPI calls throw
// Error(backend_error) naming the call (MPI_ERRORS_RETURN is set on MPI_COMM_WORLD). Throws
// Error(invalid_argument) in a build without MPI.
std::unique_ptr<Communicator> make_mpi_communicator();

// For a process that stops on an error while MPI runs with other ranks: MPI_Abort with
// exit_code, so that the others, which may be waiting for it in a collective, stop too
// rather than hang (and its own MPI_Finalize at exit, which waits for them, is skipped).
// Does nothing without MPI or with one rank.
void abort_other_ranks(int exit_code);

}  // namespace cohort
