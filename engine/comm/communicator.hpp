// The Communicator: the few collective steps of an SPMD algorithm (architecture.md).
// Buffers are in the memory of the Backend the caller names (device memory for CUDA), so a
// NCCL communicator can reduce in place. Every call blocks until the collective is done.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/backend.hpp"

namespace cohort {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // data[0..count) summed over all ranks, result on every rank.
  virtual void allreduce_sum(Backend& backend, double* data, int64_t count) = 0;
  virtual void allreduce_sum(Backend& backend, float* data, int64_t count) = 0;
  virtual void allreduce_sum(Backend& backend, int64_t* data, int64_t count) = 0;
  // Rank r contributes counts[r] elements at send; recv gets all ranks' parts in rank order.
  // counts: host, size() entries.
  virtual void allgatherv(Backend& backend, const float* send, float* recv, const int64_t* counts) = 0;
  // bytes from root's buffer to every rank's.
  virtual void broadcast(Backend& backend, void* data, int64_t bytes, int root) = 0;
  // Host memory, for results already on the host: every rank's `bytes` at send, joined in
  // rank order on every rank (allgather_rows in engine/comm/gather.hpp types it).
  virtual std::vector<unsigned char> allgather_host(const void* send, int64_t bytes) = 0;
};

// One rank: collectives are identities (allgatherv copies).
std::unique_ptr<Communicator> make_self_communicator();

}  // namespace cohort
