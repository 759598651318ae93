#include "engine/comm/agree.hpp"

#include <string>
#include <string_view>
#include <vector>

#include "engine/comm/gather.hpp"
#include "engine/io/binary_stream.hpp"
#include "kernels/error.hpp"

namespace cohort {
namespace {

template <class T>
uint64_t mix(uint64_t h, const std::vector<T>& v) {
  const std::string_view bytes(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  return (h ^ binary::fnv1a64(bytes)) * 0x100000001b3ULL;
}

}  // namespace

uint64_t fingerprint(const Csr& m) {
  uint64_t h = mix(0, std::vector<int64_t>{m.rows, m.cols});
  h = mix(h, m.indptr);
  h = mix(h, m.indices);
  return mix(h, m.values);
}

uint64_t fingerprint(const Matrix& m) { return mix(mix(0, std::vector<int64_t>{m.rows, m.cols}), m.data); }

void check_ranks_agree(const Context& ctx, const char* what, uint64_t fingerprint) {
  if (ctx.comm.size() == 1) return;
  const std::vector<uint64_t> all = allgather_rows(ctx.comm, std::vector<uint64_t>{fingerprint});
  std::string differing;
  for (size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0]) differing += (differing.empty() ? "" : ", ") + std::to_string(r);
  COHORT_CHECK_STATUS(differing.empty(), Status::bad_input,
                      "{} differ between the workers: rank(s) {} hold other data than rank 0 (each process must "
                      "read the same input with the same options)",
                      what, differing);
}

}  // namespace cohort
