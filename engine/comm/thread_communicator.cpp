#include "engine/comm/thread_communicator.hpp"

#include <condition_variable>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "kernels/error.hpp"

namespace cohort {
namespace {

// Thrown in the ranks that were waiting when another rank failed; run_ranks reports the
// failing rank's own error instead.
class GroupAborted : public Error {
 public:
  GroupAborted() : Error(Status::internal, "another worker of this run stopped with an error") {}
};

// What one collective call looks like from one rank; all ranks must agree on it.
struct CallShape {
  const char* op = "";
  int64_t count = 0;
  int root = 0;
  bool operator==(const CallShape& o) const { return std::strcmp(op, o.op) == 0 && count == o.count && root == o.root; }
};

struct Group {
  explicit Group(int n) : ranks(n), slots(static_cast<size_t>(n)), shapes(static_cast<size_t>(n)) {}

  const int ranks;
  std::mutex mutex;
  std::condition_variable wake;
  int arrived = 0;
  uint64_t generation = 0;
  bool aborted = false;
  std::exception_ptr first_error;
  std::vector<std::vector<unsigned char>> slots;  // each rank's contribution, in host memory
  std::vector<CallShape> shapes;

  void barrier() {
    std::unique_lock<std::mutex> lock(mutex);
    if (aborted) throw GroupAborted();
    const uint64_t mine = generation;
    if (++arrived == ranks) {
      arrived = 0;
      ++generation;
      wake.notify_all();
      return;
    }
    wake.wait(lock, [&] { return generation != mine || aborted; });
    if (generation == mine) throw GroupAborted();
  }

  // A new run starts clean: a failed one leaves the group aborted with its error.
  void reset() {
    std::lock_guard<std::mutex> lock(mutex);
    arrived = 0;
    aborted = false;
    first_error = nullptr;
  }

  void fail(std::exception_ptr error) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!first_error) first_error = std::move(error);
    aborted = true;
    wake.notify_all();
  }

  // Every rank's call must be the same collective with the same size; a mismatch is a bug in
  // the SPMD code, reported the same way on every rank (so none is left waiting).
  void check_shapes(int rank) const {
    for (int r = 1; r < ranks; ++r) {
      const CallShape& a = shapes[0];
      const CallShape& b = shapes[static_cast<size_t>(r)];
      COHORT_CHECK_STATUS(a == b, Status::internal,
                          "rank {}: ranks disagree on a collective: rank 0 called {} (count {}, root {}), rank {} "
                          "called {} (count {}, root {})",
                          rank, a.op, a.count, a.root, r, b.op, b.count, b.root);
    }
  }
};

class ThreadCommunicator final : public Communicator {
 public:
  ThreadCommunicator(std::shared_ptr<Group> group, int rank) : group_(std::move(group)), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return group_->ranks; }
  Group& group() { return *group_; }

  void allreduce_sum(Backend& backend, double* data, int64_t count) override {
    reduce<double, double>(backend, data, count, "allreduce_sum(double)");
  }
  void allreduce_sum(Backend& backend, float* data, int64_t count) override {
    reduce<float, double>(backend, data, count, "allreduce_sum(float)");
  }
  void allreduce_sum(Backend& backend, int64_t* data, int64_t count) override {
    reduce<int64_t, uint64_t>(backend, data, count, "allreduce_sum(int64)");  // wraps alike on every rank
  }

  void allgatherv(Backend& backend, const float* send, float* recv, const int64_t* counts) override {
    int64_t total = 0;
    for (int r = 0; r < size(); ++r) {
      COHORT_CHECK(counts[r] >= 0, "allgatherv: rank {} has count {}", r, counts[r]);
      total += counts[r];
    }
    publish(backend, send, counts[rank_] * static_cast<int64_t>(sizeof(float)), {"allgatherv", total, 0});
    int64_t offset = 0;
    for (int r = 0; r < size(); ++r) {
      const auto& slot = group_->slots[static_cast<size_t>(r)];
      COHORT_CHECK_STATUS(static_cast<int64_t>(slot.size()) == counts[r] * static_cast<int64_t>(sizeof(float)),
                          Status::internal, "allgatherv: rank {} sent {} bytes, rank {} expected {} floats", r,
                          slot.size(), rank_, counts[r]);
      if (!slot.empty()) backend.copy_to_backend(recv + offset, slot.data(), slot.size());
      offset += counts[r];
    }
    group_->barrier();  // the slots are read before the next collective overwrites them
  }

  std::vector<unsigned char> allgather_host(const void* send, int64_t bytes) override {
    COHORT_CHECK(bytes >= 0, "allgather_host: {} bytes", bytes);
    auto& slot = group_->slots[static_cast<size_t>(rank_)];
    const auto* first = static_cast<const unsigned char*>(send);
    slot.assign(first, first + bytes);
    // The parts may differ in size, so the shape checked is the call alone.
    group_->shapes[static_cast<size_t>(rank_)] = {"allgather_host", 0, 0};
    group_->barrier();
    group_->check_shapes(rank_);
    std::vector<unsigned char> out;
    for (const auto& part : group_->slots) out.insert(out.end(), part.begin(), part.end());
    group_->barrier();
    return out;
  }

  void broadcast(Backend& backend, void* data, int64_t bytes, int root) override {
    COHORT_CHECK(root >= 0 && root < size(), "broadcast: root {} is not a rank of {}", root, size());
    publish(backend, rank_ == root ? data : nullptr, rank_ == root ? bytes : 0, {"broadcast", bytes, root});
    const auto& slot = group_->slots[static_cast<size_t>(root)];
    if (rank_ != root && !slot.empty()) backend.copy_to_backend(data, slot.data(), slot.size());
    group_->barrier();
  }

 private:
  // Puts `bytes` of this rank's backend memory into its slot and waits for every rank's.
  void publish(Backend& backend, const void* src, int64_t bytes, CallShape shape) {
    auto& slot = group_->slots[static_cast<size_t>(rank_)];
    slot.resize(static_cast<size_t>(bytes));
    if (bytes > 0) backend.copy_to_host(slot.data(), src, slot.size());
    group_->shapes[static_cast<size_t>(rank_)] = shape;
    group_->barrier();
    group_->check_shapes(rank_);
  }

  // Sums in rank order from rank 0's value (so one rank is an identity, -0 included),
  // accumulating in Acc, rounding once; as the MPI communicator does.
  template <class T, class Acc>
  void reduce(Backend& backend, T* data, int64_t count, const char* op) {
    COHORT_CHECK(count >= 0, "{}: count {}", op, count);
    publish(backend, data, count * static_cast<int64_t>(sizeof(T)), {op, count, 0});
    std::vector<Acc> acc(static_cast<size_t>(count));
    std::vector<T> part(static_cast<size_t>(count));
    for (int r = 0; r < size(); ++r) {
      if (count > 0) std::memcpy(part.data(), group_->slots[static_cast<size_t>(r)].data(), part.size() * sizeof(T));
      for (size_t i = 0; i < part.size(); ++i) acc[i] = r == 0 ? static_cast<Acc>(part[i]) : acc[i] + static_cast<Acc>(part[i]);
    }
    for (size_t i = 0; i < part.size(); ++i) part[i] = static_cast<T>(acc[i]);
    if (count > 0) backend.copy_to_backend(data, part.data(), part.size() * sizeof(T));
    group_->barrier();
  }

  std::shared_ptr<Group> group_;
  int rank_;
};

}  // namespace

std::vector<std::unique_ptr<Communicator>> make_thread_communicators(int ranks) {
  COHORT_CHECK(ranks >= 1, "make_thread_communicators: ranks must be >= 1, got {}", ranks);
  auto group = std::make_shared<Group>(ranks);
  std::vector<std::unique_ptr<Communicator>> out;
  for (int r = 0; r < ranks; ++r) out.push_back(std::make_unique<ThreadCommunicator>(group, r));
  return out;
}

void run_ranks(const std::vector<std::unique_ptr<Communicator>>& comms, const std::function<void(int rank)>& work) {
  COHORT_CHECK(!comms.empty(), "run_ranks: no communicators");
  auto* first = dynamic_cast<ThreadCommunicator*>(comms[0].get());
  COHORT_CHECK(first != nullptr, "run_ranks: the communicators are not a thread group");
  Group& group = first->group();
  COHORT_CHECK(static_cast<int>(comms.size()) == group.ranks, "run_ranks: {} communicators for a group of {}",
               comms.size(), group.ranks);
  group.reset();
  auto run = [&](int rank) {
    try {
      work(rank);
    } catch (const GroupAborted&) {
      // Another rank failed first; its error is the one to report.
    } catch (...) {
      group.fail(std::current_exception());
    }
  };
  std::vector<std::thread> threads;
  for (int r = 1; r < group.ranks; ++r) threads.emplace_back(run, r);
  run(0);
  for (std::thread& t : threads) t.join();
  if (group.first_error) std::rethrow_exception(group.first_error);
}

}  // namespace cohort
