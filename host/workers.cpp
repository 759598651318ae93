#include "host/workers.hpp"

#include <algorithm>
#include <thread>

#include "engine/comm/thread_communicator.hpp"
#include "host/comm/mpi_communicator.hpp"
#include "kernels/error.hpp"

namespace cohort {

bool is_root_process() { return launch_place().rank == 0; }

std::string worker_backend_kind(const std::string& kind, int worker, int workers, int gpus) {
  COHORT_CHECK(workers >= 1 && worker >= 0 && worker < workers, "worker {} of {}", worker, workers);
  if (kind == "cpu") return kind;
  if (kind == "auto" || kind == "cuda") {
    if (gpus > 0) return "cuda:" + std::to_string(worker % gpus);
    return kind == "auto" ? "cpu" : kind;  // "cuda" without a GPU: make_backend says why
  }
  COHORT_CHECK(workers == 1 || kind.rfind("cuda:", 0) != 0,
               "--backend {} names one GPU, so it runs one worker; for {} workers pass --backend cuda (one GPU "
               "each) or cpu",
               kind, workers);
  return kind;
}

void Workers::run(const std::function<void(int worker)>& work) const {
  if (backends.size() == 1) {
    work(0);
    return;
  }
  run_ranks(comms, work);
}

Workers make_workers(const std::string& kind, int workers, const BackendOptions& options) {
  COHORT_CHECK(workers >= 1, "--workers must be >= 1, got {}", workers);
  Workers out;
  const LaunchPlace place = launch_place();
  const int world = place.world_size;
  if (world > 1) {
    COHORT_CHECK(mpi_compiled(), "this process was started by an MPI launcher ({} processes) but this build of cohort "
                                 "has no MPI; install libmpich-dev and rebuild, or run it without mpiexec",
                 world);
    COHORT_CHECK(workers == 1, "--workers {} under mpiexec: run one process per worker (mpiexec -n N) instead",
                 workers);
    // A rank takes the GPU of its place on its node, unless --backend names one.
    const int gpus = kind == "cpu" ? 0 : cuda_device_count();
    const int slots = std::max(gpus, 1);
    const bool named_gpu = kind.rfind("cuda:", 0) == 0;
    out.backends.push_back(make_backend(
        named_gpu ? kind : worker_backend_kind(kind, place.local_rank % slots, slots, gpus), options));
    out.comms.push_back(make_mpi_communicator());
    out.threads_each = options.threads;
    return out;
  }
  const int gpus = kind == "cpu" || workers == 1 ? 0 : cuda_device_count();
  BackendOptions each = options;
  if (workers > 1) {
    const int threads = options.threads > 0 ? options.threads : static_cast<int>(std::thread::hardware_concurrency());
    each.threads = std::max(1, threads / workers);
  }
  out.threads_each = each.threads;
  for (int w = 0; w < workers; ++w)
    out.backends.push_back(make_backend(workers == 1 ? kind : worker_backend_kind(kind, w, workers, gpus), each));
  if (workers == 1)
    out.comms.push_back(make_self_communicator());
  else
    out.comms = make_thread_communicators(workers);
  return out;
}

}  // namespace cohort
