// Ranks as threads of one process: one worker per GPU of a machine (or CPU workers, to check
// that a sharded run matches an unsharded one without MPI). Collectives meet at a barrier and
// exchange through host memory, so each rank may hold a different Backend (its own device).
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "engine/comm/communicator.hpp"

namespace cohort {

// `ranks` communicators of one group; communicator r is rank r. Reductions sum the ranks'
// contributions in rank order (floats in double), so every rank ends with the same bits and a
// run gives the same bits every time.
std::vector<std::unique_ptr<Communicator>> make_thread_communicators(int ranks);

// Runs work(rank) for every communicator of one group, rank 0 on the calling thread and the
// others on threads of their own, and waits for all. When one rank throws, the collectives the
// others are in (or enter later) throw too, so no rank waits forever; the first rank's own
// error is rethrown here, and the group can run again.
void run_ranks(const std::vector<std::unique_ptr<Communicator>>& comms, const std::function<void(int rank)>& work);

}  // namespace cohort
