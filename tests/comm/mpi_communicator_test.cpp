// The MPI communicator. Run as it is (one rank: MPI's singleton start, no launcher) and by
// tests/CMakeLists.txt under mpiexec as 3 ranks, with COHORT_MPI_TEST_SIZE=3 saying so, once
// more with COHORT_MPI_MAX_COUNT=3 (every call split into messages of 3 elements). Every rank
// runs the same cases in the same order, so their collectives meet; values depend on the rank
// and every expectation is computed for size() ranks. Cases use EXPECT only: a rank that
// stopped a case early would leave the others waiting in a collective.
#include "host/comm/mpi_communicator.hpp"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/error.hpp"
#include "kernels/registry.hpp"

namespace cohort {
namespace {

// The ranks mpiexec started, or 1 without it.
int expected_size() {
  const char* v = std::getenv("COHORT_MPI_TEST_SIZE");
  return v != nullptr ? std::atoi(v) : 1;
}

// A backend whose memory the host cannot address, as a GPU's: allocate hands out addresses in
// an unmapped range and only copy_to_host / copy_to_backend / copy_within / fill_zero reach the
// bytes (kept here, in an arena). A communicator that used such a pointer directly crashes.
class FakeDeviceBackend final : public Backend {
 public:
  std::string name() const override { return "fake-device"; }
  std::string description() const override { return "fake device (test)"; }
  bool on_device() const override { return true; }

  void* allocate(std::size_t bytes) override {
    const std::uintptr_t address = kBase + next_;
    blocks_[address] = std::vector<unsigned char>(bytes);
    next_ += (bytes + 4096) / 4096 * 4096;
    return reinterpret_cast<void*>(address);
  }
  void release(void* ptr) noexcept override { blocks_.erase(reinterpret_cast<std::uintptr_t>(ptr)); }
  void copy_to_backend(void* dst, const void* host_src, std::size_t bytes) override {
    if (bytes > 0) std::memcpy(resolve(dst, bytes), host_src, bytes);
  }
  void copy_to_host(void* host_dst, const void* src, std::size_t bytes) override {
    if (bytes > 0) std::memcpy(host_dst, resolve(src, bytes), bytes);
  }
  void copy_within(void* dst, const void* src, std::size_t bytes) override {
    if (bytes > 0) std::memmove(resolve(dst, bytes), resolve(src, bytes), bytes);
  }
  void fill_zero(void* dst, std::size_t bytes) override {
    if (bytes > 0) std::memset(resolve(dst, bytes), 0, bytes);
  }
  void synchronize() override {}

  // The rest is not a communicator's business.
  void gemm_nt(float, MatrixView<const float>, MatrixView<const float>, float, MatrixView<float>) override { no(); }
  void row_sq_norms(MatrixView<const float>, float*) override { no(); }
  void normalize_rows(MatrixView<float>) override { no(); }
  void distances_from_dots(MatrixView<float>, const float*, const float*, int64_t) override { no(); }
  void topk_cosine(CsrView, CsrView, int64_t, int64_t, int, bool, int32_t*, float*) override { no(); }
  void gram(MatrixView<const float>, float*) override { no(); }
  void als_solve(CsrView, MatrixView<const float>, const float*, float, AlsMode, SolverKind, int,
                 MatrixView<float>) override {
    no();
  }
  double als_loss(CsrView, MatrixView<const float>, MatrixView<const float>, const float*, AlsMode) override {
    no();
    return 0;
  }
  BprStats bpr_epoch(CsrView, MatrixView<float>, MatrixView<float>, float, float, int64_t, uint64_t) override {
    no();
    return {};
  }
  void kmeans_assign(MatrixView<const float>, const float*, MatrixView<const float>, const int64_t*, int, int32_t*,
                     float*, float*) override {
    no();
  }
  void kmeans_accumulate(MatrixView<const float>, const int32_t*, const int64_t*, int, double*, double*) override {
    no();
  }
  void kmeans_finalize(const double*, const double*, MatrixView<float>) override { no(); }
  void sum_per_problem(const float*, int64_t, int, double*) override { no(); }
  void kmeans_plus_plus(MatrixView<const float>, const float*, int, uint64_t, MatrixView<float>) override { no(); }
  void score_topk(const ScoreTerms&, int64_t, int64_t, CsrView, int, int32_t*, float*) override { no(); }
  void knn_score_topk(CsrView, const int32_t*, const float*, int, int64_t, CsrView, int, int32_t*, float*) override {
    no();
  }

 private:
  static constexpr std::uintptr_t kBase = std::uintptr_t{1} << 46;

  [[noreturn]] static void no() { throw Error(Status::internal, "FakeDeviceBackend: not a memory operation"); }

  unsigned char* resolve(const void* ptr, std::size_t bytes) {
    const auto address = reinterpret_cast<std::uintptr_t>(ptr);
    auto it = blocks_.upper_bound(address);
    if (it == blocks_.begin()) throw Error(Status::internal, "FakeDeviceBackend: not its pointer");
    --it;
    if (address + bytes > it->first + it->second.size()) {
      throw Error(Status::internal, "FakeDeviceBackend: access past the end of a block");
    }
    return it->second.data() + (address - it->first);
  }

  std::map<std::uintptr_t, std::vector<unsigned char>> blocks_;
  std::uintptr_t next_ = 0;
};

// A buffer of n T in a backend's memory, filled from and read back to host vectors.
template <class T>
class Buffer {
 public:
  Buffer(Backend& backend, const std::vector<T>& init) : backend_(backend), n_(init.size()) {
    data_ = static_cast<T*>(backend_.allocate(std::max<std::size_t>(1, n_) * sizeof(T)));
    if (n_ > 0) backend_.copy_to_backend(data_, init.data(), n_ * sizeof(T));
  }
  ~Buffer() { backend_.release(data_); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  T* data() { return data_; }
  std::vector<T> host() {
    std::vector<T> out(n_);
    if (n_ > 0) backend_.copy_to_host(out.data(), data_, n_ * sizeof(T));
    return out;
  }

 private:
  Backend& backend_;
  std::size_t n_;
  T* data_;
};

class MpiCommunicator : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!mpi_compiled()) GTEST_SKIP() << "this build has no MPI";
    cpu_ = make_backend("cpu");
    comm_ = make_mpi_communicator();
    rank_ = comm_->rank();
    size_ = comm_->size();
  }

  // Rank r's contribution to the reductions: v(r, i), the same function on every rank.
  static double dv(int r, int64_t i) { return 0.1 * (r + 1) + 1e-3 * static_cast<double>(i) - 1.0 / (3 + r + i); }
  static float fv(int r, int64_t i) { return static_cast<float>(dv(r, i)) * (r % 2 == 0 ? 1.0f : -0.37f); }

  template <class T>
  std::vector<T> reduce_on(Backend& backend, const std::vector<T>& values) {
    Buffer<T> buffer(backend, values);
    comm_->allreduce_sum(backend, buffer.data(), static_cast<int64_t>(values.size()));
    return buffer.host();
  }

  // Allgatherv with counts[r] = count(r) and send values 1000 r + i + 0.25.
  std::vector<float> gather_on(Backend& backend, int64_t (*count)(int)) {
    std::vector<int64_t> counts(static_cast<std::size_t>(size_));
    int64_t total = 0;
    for (int r = 0; r < size_; ++r) total += counts[static_cast<std::size_t>(r)] = count(r);
    std::vector<float> mine(static_cast<std::size_t>(count(rank_)));
    for (std::size_t i = 0; i < mine.size(); ++i) mine[i] = 1000.0f * static_cast<float>(rank_) + i + 0.25f;
    Buffer<float> send(backend, mine);
    Buffer<float> recv(backend, std::vector<float>(static_cast<std::size_t>(total), -1.0f));
    comm_->allgatherv(backend, send.data(), recv.data(), counts.data());
    return recv.host();
  }

  std::vector<float> expected_gather(int64_t (*count)(int)) const {
    std::vector<float> out;
    for (int r = 0; r < size_; ++r) {
      for (int64_t i = 0; i < count(r); ++i) out.push_back(1000.0f * static_cast<float>(r) + i + 0.25f);
    }
    return out;
  }

  std::unique_ptr<Backend> cpu_;
  std::unique_ptr<Communicator> comm_;
  int rank_ = 0;
  int size_ = 1;
};

TEST(MpiCommunicatorBuild, WithoutMpiSaysHowToGetIt) {
  if (mpi_compiled()) GTEST_SKIP() << "this build has MPI";
  try {
    make_mpi_communicator();
    ADD_FAILURE() << "make_mpi_communicator did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("libmpich-dev"), std::string::npos) << e.what();
  }
}

TEST_F(MpiCommunicator, WorldSizeAndRanks) {
  // Under mpiexec the launcher is seen and every rank is one of 3; alone, one singleton rank.
  EXPECT_EQ(launch_place().world_size, expected_size());
  EXPECT_EQ(launch_place().rank, rank_);
  EXPECT_EQ(size_, expected_size());
  EXPECT_GE(rank_, 0);
  EXPECT_LT(rank_, size_);
  // A second communicator reuses the MPI already started.
  auto again = make_mpi_communicator();
  EXPECT_EQ(again->rank(), rank_);
  EXPECT_EQ(again->size(), size_);
  // The ranks are distinct: the sum of 2^rank is 2^size - 1.
  std::vector<int64_t> bits = {int64_t{1} << rank_, rank_};
  comm_->allreduce_sum(*cpu_, bits.data(), 2);
  EXPECT_EQ(bits[0], (int64_t{1} << size_) - 1);
  EXPECT_EQ(bits[1], int64_t{size_} * (size_ - 1) / 2);
}

TEST_F(MpiCommunicator, AllreduceSumDouble) {
  // Exact values: (r + 1) / 2 + i.
  const int64_t n = 10;
  std::vector<double> exact(n);
  for (int64_t i = 0; i < n; ++i) exact[static_cast<std::size_t>(i)] = 0.5 * (rank_ + 1) + static_cast<double>(i);
  const auto got = reduce_on(*cpu_, exact);
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_EQ(got[static_cast<std::size_t>(i)], 0.25 * size_ * (size_ + 1) + static_cast<double>(size_ * i)) << i;
  }
  // Inexact values: the bits of the sum in rank order.
  std::vector<double> mine(n);
  for (int64_t i = 0; i < n; ++i) mine[static_cast<std::size_t>(i)] = dv(rank_, i);
  const auto sum = reduce_on(*cpu_, mine);
  for (int64_t i = 0; i < n; ++i) {
    double expected = dv(0, i);
    for (int r = 1; r < size_; ++r) expected += dv(r, i);
    EXPECT_EQ(std::memcmp(&sum[static_cast<std::size_t>(i)], &expected, sizeof(double)), 0)
        << i << ": " << sum[static_cast<std::size_t>(i)] << " vs " << expected;
  }
  // Nothing to sum: returns on every rank.
  comm_->allreduce_sum(*cpu_, static_cast<double*>(nullptr), 0);
}

TEST_F(MpiCommunicator, AllreduceSumFloatRoundsOnceFromDouble) {
  // 1 on rank 0, 2^-24 on the others: summed in float, 1 + 2^-24 rounds back to 1 at every
  // step; in double and rounded once, 1 + (size - 1) 2^-24 (1 + 2^-23 for 3 ranks).
  const float tiny = std::ldexp(1.0f, -24);
  std::vector<float> edge = {rank_ == 0 ? 1.0f : tiny, rank_ == 0 ? tiny : 1.0f};
  const auto got = reduce_on(*cpu_, edge);
  const auto expected0 = static_cast<float>(1.0 + (size_ - 1) * static_cast<double>(tiny));
  const auto expected1 = static_cast<float>(static_cast<double>(tiny) + (size_ - 1));
  EXPECT_EQ(got[0], expected0);
  EXPECT_EQ(got[1], expected1);
  if (size_ == 3) {
    EXPECT_EQ(got[0], 1.0f + 2 * tiny);
    float in_float = 1.0f;
    for (int r = 1; r < size_; ++r) in_float += tiny;
    EXPECT_NE(got[0], in_float);  // the case tells the two orders apart
  }
  // General values, positive and negative: the rank-order double sum rounded once.
  const int64_t n = 10;
  std::vector<float> mine(n);
  for (int64_t i = 0; i < n; ++i) mine[static_cast<std::size_t>(i)] = fv(rank_, i);
  const auto sum = reduce_on(*cpu_, mine);
  for (int64_t i = 0; i < n; ++i) {
    double acc = fv(0, i);
    for (int r = 1; r < size_; ++r) acc += fv(r, i);
    const auto expected = static_cast<float>(acc);
    EXPECT_EQ(std::memcmp(&sum[static_cast<std::size_t>(i)], &expected, sizeof(float)), 0)
        << i << ": " << sum[static_cast<std::size_t>(i)] << " vs " << expected;
  }
}

TEST_F(MpiCommunicator, AllreduceSumInt64) {
  const int64_t n = 7;
  const int64_t big = int64_t{1} << 40;
  std::vector<int64_t> mine(n);
  for (int64_t i = 0; i < n; ++i) mine[static_cast<std::size_t>(i)] = (rank_ + 1) * big - 7 * rank_ + i;
  const auto got = reduce_on(*cpu_, mine);
  const int64_t s = size_;
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_EQ(got[static_cast<std::size_t>(i)], s * (s + 1) / 2 * big - 7 * s * (s - 1) / 2 + s * i) << i;
  }
}

int64_t unequal_count(int r) { return r == 1 ? 0 : 2 * r + 3; }  // 3, 0, 7 for 3 ranks
int64_t zero_count(int) { return 0; }

TEST_F(MpiCommunicator, AllgathervUnequalCounts) {
  EXPECT_EQ(gather_on(*cpu_, unequal_count), expected_gather(unequal_count));
  EXPECT_TRUE(gather_on(*cpu_, zero_count).empty());
}

TEST_F(MpiCommunicator, AllgathervInPlace) {
  // send is this rank's own part of recv.
  std::vector<int64_t> counts(static_cast<std::size_t>(size_));
  int64_t total = 0;
  int64_t offset = 0;
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) offset = total;
    total += counts[static_cast<std::size_t>(r)] = unequal_count(r);
  }
  std::vector<float> recv(static_cast<std::size_t>(total), -1.0f);
  for (int64_t i = 0; i < unequal_count(rank_); ++i) {
    recv[static_cast<std::size_t>(offset + i)] = 1000.0f * static_cast<float>(rank_) + i + 0.25f;
  }
  comm_->allgatherv(*cpu_, recv.data() + offset, recv.data(), counts.data());
  EXPECT_EQ(recv, expected_gather(unequal_count));
}

TEST_F(MpiCommunicator, AllgatherHostPartsOfDifferentSizes) {
  // Rank r sends unequal_count(r) * 3 bytes (rank 1 none).
  auto part = [](int r) {
    std::vector<unsigned char> out(static_cast<std::size_t>(unequal_count(r) * 3));
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<unsigned char>(r * 50 + i);
    return out;
  };
  std::vector<unsigned char> expected;
  for (int r = 0; r < size_; ++r) {
    const auto p = part(r);
    expected.insert(expected.end(), p.begin(), p.end());
  }
  const auto mine = part(rank_);
  EXPECT_EQ(comm_->allgather_host(mine.data(), static_cast<int64_t>(mine.size())), expected);
  EXPECT_TRUE(comm_->allgather_host(nullptr, 0).empty());
}

TEST_F(MpiCommunicator, BroadcastFromNonzeroRoot) {
  const int root = size_ > 1 ? 1 : 0;
  const int64_t bytes = 1001;
  std::vector<unsigned char> data(bytes, 0xAA);
  std::vector<unsigned char> expected(bytes);
  for (int64_t i = 0; i < bytes; ++i) expected[static_cast<std::size_t>(i)] = static_cast<unsigned char>(i * 7 + 1);
  if (rank_ == root) data = expected;
  comm_->broadcast(*cpu_, data.data(), bytes, root);
  EXPECT_EQ(data, expected);
}

TEST_F(MpiCommunicator, BroadcastRootOutOfRange) {
  unsigned char byte = 0;
  for (int root : {-1, size_}) {
    try {
      comm_->broadcast(*cpu_, &byte, 1, root);
      ADD_FAILURE() << "root " << root << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::invalid_argument);
      EXPECT_NE(std::string(e.what()).find("root"), std::string::npos) << e.what();
    }
  }
}

// The same collectives on memory the host cannot address: staged through host copies.
TEST_F(MpiCommunicator, OnDeviceBackendStagesThroughHost) {
  FakeDeviceBackend device;
  const int64_t n = 10;
  std::vector<double> d(n);
  std::vector<float> f(n);
  std::vector<int64_t> k(n);
  for (int64_t i = 0; i < n; ++i) {
    d[static_cast<std::size_t>(i)] = dv(rank_, i);
    f[static_cast<std::size_t>(i)] = fv(rank_, i);
    k[static_cast<std::size_t>(i)] = (int64_t{1} << 40) * (rank_ + 1) + i;
  }
  EXPECT_EQ(reduce_on(device, d), reduce_on(*cpu_, d));
  EXPECT_EQ(reduce_on(device, f), reduce_on(*cpu_, f));
  EXPECT_EQ(reduce_on(device, k), reduce_on(*cpu_, k));
  EXPECT_EQ(gather_on(device, unequal_count), expected_gather(unequal_count));

  const int root = size_ - 1;
  std::vector<unsigned char> expected(777);
  for (std::size_t i = 0; i < expected.size(); ++i) expected[i] = static_cast<unsigned char>(i * 13 + 5);
  Buffer<unsigned char> data(device, rank_ == root ? expected : std::vector<unsigned char>(expected.size(), 0));
  comm_->broadcast(device, data.data(), static_cast<int64_t>(expected.size()), root);
  EXPECT_EQ(data.host(), expected);
}

}  // namespace
}  // namespace cohort
