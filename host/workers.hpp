// The workers of one run (architecture.md, "SPMD workers"): each a Backend and a Communicator,
// all running the same engine code on their shards. One process runs its workers on threads
// (one per GPU, or CPU workers sharing the cores); a process started by mpiexec is one worker
// of the MPI group.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/comm/communicator.hpp"
#include "kernels/backend.hpp"
#include "kernels/registry.hpp"

namespace cohort {

// The backend kind of thread worker `worker` of `workers` for the run's --backend `kind`:
// "cpu" stays "cpu"; "auto" and "cuda" spread the workers over the GPUs ("cuda:w % gpus"),
// "auto" falling back to "cpu" without one; "cuda:N" names one GPU, so only one worker.
std::string worker_backend_kind(const std::string& kind, int worker, int workers, int gpus);

struct Workers {
  std::vector<std::unique_ptr<Backend>> backends;      // this process's workers
  std::vector<std::unique_ptr<Communicator>> comms;   // comms[w] is backends[w]'s
  int threads_each = 0;  // CPU threads of each worker's host-side work (0 = OpenMP's default)

  // Runs work(w) for every worker of this process, SPMD; rethrows the first worker's error.
  void run(const std::function<void(int worker)>& work) const;
};

// Whether this process is the run's first: not a rank > 0 of an MPI launcher (launch_place,
// so it is known before MPI starts).
bool is_root_process();

// `workers` thread workers in this process, or, under mpiexec with MPI compiled, this
// process's one worker in the MPI group (then `workers` must be 1). CPU workers share the
// threads: options.threads (0 = all cores) split evenly. Under mpiexec a GPU worker takes the
// GPU of its local rank.
Workers make_workers(const std::string& kind, int workers, const BackendOptions& options);

}  // namespace cohort
