// SPMD code assumes every rank starts from the same inputs: each MPI process reads its own
// copy of the data, and a copy that differs (another file version on one machine, another
// seed) would make the ranks' collectives disagree (an MPI error or a wait) or their results
// meaningless. The algorithms check their inputs' fingerprints across the ranks first.
#pragma once

#include <cstdint>

#include "engine/context.hpp"
#include "engine/data/csr.hpp"

namespace cohort {

// FNV-1a over a matrix's shape and contents.
uint64_t fingerprint(const Csr& m);
uint64_t fingerprint(const Matrix& m);

// Throws Error(bad_input) on every rank, naming `what` and the ranks that differ from rank 0,
// unless every rank passed the same fingerprint. One gather; nothing with one rank.
void check_ranks_agree(const Context& ctx, const char* what, uint64_t fingerprint);

}  // namespace cohort
