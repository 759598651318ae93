// Typed gathers of host vectors over a Communicator: how SPMD code joins the per-rank
// results of its row blocks (top-k lists, silhouette scores, neighbours, folded-in factors)
// on every rank.
#pragma once

#include <cstring>
#include <type_traits>
#include <vector>

#include "engine/comm/communicator.hpp"
#include "kernels/error.hpp"

namespace cohort {

// Every rank's `mine`, joined in rank order, on every rank.
template <class T>
std::vector<T> allgather_rows(Communicator& comm, const std::vector<T>& mine) {
  static_assert(std::is_trivially_copyable_v<T>, "allgather_rows moves bytes");
  if (comm.size() == 1) return mine;
  const std::vector<unsigned char> bytes =
      comm.allgather_host(mine.data(), static_cast<int64_t>(mine.size() * sizeof(T)));
  COHORT_CHECK_STATUS(bytes.size() % sizeof(T) == 0, Status::internal, "allgather_rows: {} bytes for {}-byte values",
                      bytes.size(), sizeof(T));
  std::vector<T> out(bytes.size() / sizeof(T));
  if (!bytes.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

}  // namespace cohort
