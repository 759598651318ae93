#include "host/comm/mpi_communicator.hpp"

#include <algorithm>
#include <cstdlib>
#include <initializer_list>

#include "kernels/error.hpp"

#if COHORT_HAVE_MPI
#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <mpi.h>
#endif

namespace cohort {

namespace {

// The first of these environment variables that is set, as an integer; `fallback` when none is.
int env_int(std::initializer_list<const char*> names, int fallback) {
  for (const char* name : names)
    if (const char* value = std::getenv(name)) return std::atoi(value);
  return fallback;
}

}  // namespace

// MPICH's hydra and PMI launchers (srun with PMI too) and Open MPI's. Not Slurm's own variables:
// a batch job's plain `cohort` sees them too, without a launcher.
LaunchPlace launch_place() {
  LaunchPlace p;
  p.world_size = std::max(1, env_int({"PMI_SIZE", "OMPI_COMM_WORLD_SIZE"}, 1));
  p.rank = std::max(0, env_int({"PMI_RANK", "OMPI_COMM_WORLD_RANK"}, 0));
  p.local_rank = std::max(0, env_int({"MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK"}, 0));
  return p;
}

#if COHORT_HAVE_MPI

bool mpi_compiled() { return true; }

namespace {

// Host staging buffers (an on-device backend's data, the gathered parts of a reduction, the
// rounds of a split allgatherv) hold at most this much.
constexpr int64_t kStagingBytes = int64_t{256} << 20;

// The most elements one MPI call sends or places (its counts and displacements are int).
// COHORT_MPI_MAX_COUNT=N lowers it, for a test to reach the paths that split a call.
int64_t max_count() {
  const int64_t limit = INT_MAX;
  const char* v = std::getenv("COHORT_MPI_MAX_COUNT");
  if (v == nullptr) return limit;
  const long long forced = std::atoll(v);
  return forced > 0 ? std::min<int64_t>(limit, forced) : limit;
}

void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  COHORT_FAIL(Status::backend_error, "{} failed: {} (MPI error code {})", call,
              length > 0 ? std::string(text, static_cast<size_t>(length)) : std::string("unknown error"), code);
}

void finalize_at_exit() {
  int finalized = 0;
  if (MPI_Finalized(&finalized) == MPI_SUCCESS && !finalized) MPI_Finalize();
}

// MPI_Init_thread once per process, unless the program initialised MPI itself.
void ensure_mpi() {
  static std::mutex mutex;
  const std::lock_guard<std::mutex> lock(mutex);
  int finalized = 0;
  check_mpi(MPI_Finalized(&finalized), "MPI_Finalized");
  COHORT_CHECK_STATUS(!finalized, Status::backend_error,
                      "make_mpi_communicator: MPI was finalised already; it cannot be started again in this process");
  int initialized = 0;
  check_mpi(MPI_Initialized(&initialized), "MPI_Initialized");
  if (!initialized) {
    // SERIALIZED: MPI is called from one thread at a time, but not always the one that
    // started it (the CLI makes its communicator on a thread of its own, beside the loading).
    int provided = 0;
    check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
    std::atexit(finalize_at_exit);
    COHORT_CHECK_STATUS(provided >= MPI_THREAD_SERIALIZED, Status::backend_error,
                        "MPI_Init_thread: this MPI provides thread level {}; cohort needs MPI_THREAD_SERIALIZED ({})",
                        provided, static_cast<int>(MPI_THREAD_SERIALIZED));
  }
  check_mpi(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
}

template <class T>
MPI_Datatype mpi_type();
template <>
MPI_Datatype mpi_type<double>() { return MPI_DOUBLE; }
template <>
MPI_Datatype mpi_type<float>() { return MPI_FLOAT; }
template <>
MPI_Datatype mpi_type<int64_t>() { return MPI_INT64_T; }
template <>
MPI_Datatype mpi_type<unsigned char>() { return MPI_BYTE; }

// Whether [a, a + a_bytes) and [b, b + b_bytes) share a byte.
bool overlap(const void* a, int64_t a_bytes, const void* b, int64_t b_bytes) {
  if (a_bytes <= 0 || b_bytes <= 0) return false;
  const std::less<const void*> less;
  return less(a, static_cast<const char*>(b) + b_bytes) && less(b, static_cast<const char*>(a) + a_bytes);
}

// copy_to_backend, then waits: the host buffer is reused or freed right after.
void upload(Backend& backend, void* dst, const void* host_src, int64_t bytes) {
  if (bytes <= 0) return;
  backend.copy_to_backend(dst, host_src, static_cast<size_t>(bytes));
  backend.synchronize();
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  // Not MPI_Allreduce: MPI does not promise the same floating-point result on every rank (nor
  // from one run to the next: the reduction tree may depend on sizes and placement), and the
  // engine needs every rank bitwise identical. Every rank gathers all contributions and sums
  // them in rank order, floats in double rounded once (as the thread communicator does).
  void allreduce_sum(Backend& backend, double* data, int64_t count) override {
    reduce<double, double>(backend, data, count, "allreduce_sum(double)");
  }
  void allreduce_sum(Backend& backend, float* data, int64_t count) override {
    reduce<float, double>(backend, data, count, "allreduce_sum(float)");
  }
  // Summed as uint64_t: an overflow wraps the same way on every rank.
  void allreduce_sum(Backend& backend, int64_t* data, int64_t count) override {
    reduce<int64_t, uint64_t>(backend, data, count, "allreduce_sum(int64)");
  }

  void allgatherv(Backend& backend, const float* send, float* recv, const int64_t* counts) override {
    std::vector<int64_t> offsets(static_cast<size_t>(size_));
    int64_t total = 0;
    for (int r = 0; r < size_; ++r) {
      COHORT_CHECK(counts[r] >= 0, "allgatherv: rank {} has count {}", r, counts[r]);
      offsets[static_cast<size_t>(r)] = total;
      total += counts[r];
    }
    if (total == 0) return;  // every rank holds the same counts, so every rank returns here
    const int64_t mine = counts[rank_];
    const int64_t bytes = static_cast<int64_t>(sizeof(float));
    std::vector<float> send_host;
    std::vector<float> recv_host;
    const float* src = send;
    float* dst = recv;
    if (backend.on_device()) {
      send_host.resize(static_cast<size_t>(mine));
      if (mine > 0) backend.copy_to_host(send_host.data(), send, static_cast<size_t>(mine * bytes));
      recv_host.resize(static_cast<size_t>(total));
      src = send_host.data();
      dst = recv_host.data();
    } else {
      backend.synchronize();
      // MPI forbids a send buffer inside the receive buffer (in place included).
      if (overlap(send, mine * bytes, recv, total * bytes)) {
        send_host.assign(send, send + mine);
        src = send_host.data();
      }
    }
    gather(src, dst, counts, offsets, total);
    if (backend.on_device()) upload(backend, recv, dst, total * bytes);
  }

  std::vector<unsigned char> allgather_host(const void* send, int64_t bytes) override {
    COHORT_CHECK(bytes >= 0, "allgather_host: {} bytes", bytes);
    // The parts may differ in size: every rank's size first.
    const auto ranks = static_cast<size_t>(size_);
    std::vector<int64_t> counts(ranks);
    check_mpi(MPI_Allgather(&bytes, 1, MPI_INT64_T, counts.data(), 1, MPI_INT64_T, MPI_COMM_WORLD), "MPI_Allgather");
    std::vector<int64_t> offsets(ranks);
    int64_t total = 0;
    for (size_t r = 0; r < ranks; ++r) {
      offsets[r] = total;
      total += counts[r];
    }
    std::vector<unsigned char> out(static_cast<size_t>(total));
    if (total > 0) gather(static_cast<const unsigned char*>(send), out.data(), counts.data(), offsets, total);
    return out;
  }

  void broadcast(Backend& backend, void* data, int64_t bytes, int root) override {
    COHORT_CHECK(root >= 0 && root < size_, "broadcast: root {} is not a rank of {}", root, size_);
    COHORT_CHECK(bytes >= 0, "broadcast: {} bytes", bytes);
    if (bytes == 0) return;
    const int64_t chunk = std::min(max_count(), kStagingBytes);
    const bool device = backend.on_device();
    std::vector<unsigned char> stage(device ? static_cast<size_t>(std::min(chunk, bytes)) : 0);
    if (!device) backend.synchronize();
    auto* base = static_cast<unsigned char*>(data);
    for (int64_t begin = 0; begin < bytes; begin += chunk) {
      const int64_t n = std::min(chunk, bytes - begin);
      unsigned char* p = device ? stage.data() : base + begin;
      if (device && rank_ == root) backend.copy_to_host(p, base + begin, static_cast<size_t>(n));
      check_mpi(MPI_Bcast(p, static_cast<int>(n), MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
      if (device && rank_ != root) upload(backend, base + begin, p, n);
    }
  }

 private:
  // Rank r's counts[r] elements from src to dst + offsets[r] on every rank; src and dst in
  // host memory, apart. One MPI_Allgatherv when every count and displacement fits MPI's int,
  // else rounds of at most max_count() / size() elements a rank through a staging buffer.
  template <class T>
  void gather(const T* src, T* dst, const int64_t* counts, const std::vector<int64_t>& offsets, int64_t total) const {
    const auto ranks = static_cast<size_t>(size_);
    std::vector<int> round_counts(ranks);
    std::vector<int> round_displs(ranks);
    const int64_t limit = max_count();
    if (total <= limit) {
      for (size_t r = 0; r < ranks; ++r) {
        round_counts[r] = static_cast<int>(counts[r]);
        round_displs[r] = static_cast<int>(offsets[r]);
      }
      check_mpi(MPI_Allgatherv(src, static_cast<int>(counts[rank_]), mpi_type<T>(), dst, round_counts.data(),
                               round_displs.data(), mpi_type<T>(), MPI_COMM_WORLD),
                "MPI_Allgatherv");
      return;
    }
    const int64_t per_rank =
        std::max<int64_t>(1, std::min<int64_t>(limit, kStagingBytes / int64_t{sizeof(T)}) / size_);
    const int64_t largest = *std::max_element(counts, counts + size_);
    std::vector<T> stage(static_cast<size_t>(std::min(total, per_rank * size_)));
    const int64_t mine = counts[rank_];
    for (int64_t begin = 0; begin < largest; begin += per_rank) {
      int64_t round_total = 0;
      for (size_t r = 0; r < ranks; ++r) {
        const int64_t n = std::clamp<int64_t>(counts[r] - begin, 0, per_rank);
        round_counts[r] = static_cast<int>(n);
        round_displs[r] = static_cast<int>(round_total);
        round_total += n;
      }
      check_mpi(MPI_Allgatherv(src + std::min(begin, mine), round_counts[static_cast<size_t>(rank_)], mpi_type<T>(),
                               stage.data(), round_counts.data(), round_displs.data(), mpi_type<T>(),
                               MPI_COMM_WORLD),
                "MPI_Allgatherv");
      for (size_t r = 0; r < ranks; ++r) {
        if (round_counts[r] == 0) continue;
        std::memcpy(dst + offsets[r] + begin, stage.data() + round_displs[r],
                    static_cast<size_t>(round_counts[r]) * sizeof(T));
      }
    }
  }

  // data[i] = sum over ranks r, in rank order, of rank r's data[i]: summed in Acc from rank 0's
  // value (so one rank is an identity, -0 and NaN payloads included), rounded once to T. In
  // slices of at most max_count() elements and kStagingBytes of gathered parts.
  template <class T, class Acc>
  void reduce(Backend& backend, T* data, int64_t count, const char* op) {
    COHORT_CHECK(count >= 0, "{}: count {}", op, count);
    if (count == 0) return;
    const auto ranks = static_cast<size_t>(size_);
    const int64_t chunk = std::min<int64_t>(
        count, std::max<int64_t>(1, std::min<int64_t>(max_count(), kStagingBytes / int64_t{sizeof(T)} / size_)));
    const bool device = backend.on_device();
    std::vector<T> own(device ? static_cast<size_t>(chunk) : 0);
    std::vector<T> parts(static_cast<size_t>(chunk) * ranks);
    std::vector<Acc> acc(static_cast<size_t>(chunk));
    if (!device) backend.synchronize();
    for (int64_t begin = 0; begin < count; begin += chunk) {
      const auto n = static_cast<size_t>(std::min(chunk, count - begin));
      T* mine = device ? own.data() : data + begin;
      if (device) backend.copy_to_host(mine, data + begin, n * sizeof(T));
      check_mpi(MPI_Allgather(mine, static_cast<int>(n), mpi_type<T>(), parts.data(), static_cast<int>(n),
                              mpi_type<T>(), MPI_COMM_WORLD),
                "MPI_Allgather");
      for (size_t i = 0; i < n; ++i) acc[i] = static_cast<Acc>(parts[i]);
      for (size_t r = 1; r < ranks; ++r) {
        const T* part = parts.data() + r * n;
        for (size_t i = 0; i < n; ++i) acc[i] += static_cast<Acc>(part[i]);
      }
      for (size_t i = 0; i < n; ++i) mine[i] = static_cast<T>(acc[i]);
      if (device) upload(backend, data + begin, mine, static_cast<int64_t>(n * sizeof(T)));
    }
  }

  int rank_ = 0;
  int size_ = 1;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator() {
  ensure_mpi();
  return std::make_unique<MpiCommunicator>();
}

void abort_other_ranks(int exit_code) {
  int initialized = 0;
  int finalized = 0;
  if (MPI_Initialized(&initialized) != MPI_SUCCESS || !initialized) return;
  if (MPI_Finalized(&finalized) != MPI_SUCCESS || finalized) return;
  int size = 1;
  if (MPI_Comm_size(MPI_COMM_WORLD, &size) == MPI_SUCCESS && size > 1) MPI_Abort(MPI_COMM_WORLD, exit_code);
}

#else  // !COHORT_HAVE_MPI

void abort_other_ranks(int) {}

bool mpi_compiled() { return false; }

std::unique_ptr<Communicator> make_mpi_communicator() {
  COHORT_FAIL(Status::invalid_argument,
              "this build of cohort has no MPI: install it (Debian: apt-get install mpich libmpich-dev, as "
              "scripts/install-deps does) and rebuild (CMake option COHORT_WITH_MPI=AUTO or ON)");
}

#endif

}  // namespace cohort
