// The thread group's collectives: rank-order sums equal on every rank, gathers with empty
// parts, broadcasts from any root, and a failing rank stopping the others instead of
// leaving them waiting.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <memory>
#include <vector>

#include "engine/comm/thread_communicator.hpp"
#include "kernels/buffer.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/error.hpp"

namespace cohort {
namespace {

constexpr int kRanks = 3;

class ThreadCommunicatorTest : public ::testing::Test {
 protected:
  ThreadCommunicatorTest() : comms_(make_thread_communicators(kRanks)) {
    for (int r = 0; r < kRanks; ++r) backends_.push_back(make_cpu_backend(1));
  }
  std::vector<std::unique_ptr<Backend>> backends_;
  std::vector<std::unique_ptr<Communicator>> comms_;
};

TEST_F(ThreadCommunicatorTest, RanksAndSize) {
  for (int r = 0; r < kRanks; ++r) {
    EXPECT_EQ(comms_[r]->rank(), r);
    EXPECT_EQ(comms_[r]->size(), kRanks);
  }
}

TEST_F(ThreadCommunicatorTest, AllreduceSumsInRankOrderOnEveryRank) {
  // Float parts whose sum depends on the order: 1e8 + 1 - 1e8 rounds differently from
  // (1e8 - 1e8) + 1 in float; in double, in rank order, it is exactly 1.
  const std::vector<std::vector<float>> floats = {{1e8f, 0.5f}, {1.0f, 0.25f}, {-1e8f, 0.125f}};
  std::vector<std::vector<float>> float_out(kRanks);
  std::vector<std::vector<double>> double_out(kRanks);
  std::vector<std::vector<int64_t>> int_out(kRanks);
  run_ranks(comms_, [&](int r) {
    Backend& b = *backends_[r];
    Buffer<float> f(b, floats[r]);
    comms_[r]->allreduce_sum(b, f.data(), f.size());
    float_out[r] = f.to_host();
    Buffer<double> d(b, std::vector<double>{0.1 * (r + 1), -1.0 * r});
    comms_[r]->allreduce_sum(b, d.data(), d.size());
    double_out[r] = d.to_host();
    Buffer<int64_t> i(b, std::vector<int64_t>{int64_t{1} << (40 + r), r});
    comms_[r]->allreduce_sum(b, i.data(), i.size());
    int_out[r] = i.to_host();
  });
  const double d0 = (0.1 + 0.2) + 0.30000000000000004;
  for (int r = 0; r < kRanks; ++r) {
    EXPECT_EQ(float_out[r], (std::vector<float>{1.0f, 0.875f})) << "rank " << r;
    EXPECT_EQ(double_out[r][0], d0) << "rank " << r;
    EXPECT_EQ(double_out[r][1], -3.0);
    EXPECT_EQ(int_out[r], (std::vector<int64_t>{(int64_t{1} << 40) + (int64_t{1} << 41) + (int64_t{1} << 42), 3}));
  }
}

TEST_F(ThreadCommunicatorTest, AllgathervJoinsPartsInRankOrderWithEmptyParts) {
  const std::vector<int64_t> counts = {2, 0, 3};
  std::vector<std::vector<float>> out(kRanks);
  run_ranks(comms_, [&](int r) {
    Backend& b = *backends_[r];
    std::vector<float> part(static_cast<size_t>(counts[r]));
    for (size_t i = 0; i < part.size(); ++i) part[i] = static_cast<float>(10 * r + static_cast<int>(i));
    Buffer<float> send(b, part);
    Buffer<float> recv(b, 5);
    comms_[r]->allgatherv(b, send.data(), recv.data(), counts.data());
    out[r] = recv.to_host();
  });
  for (int r = 0; r < kRanks; ++r) EXPECT_EQ(out[r], (std::vector<float>{0, 1, 20, 21, 22})) << "rank " << r;
}

TEST_F(ThreadCommunicatorTest, BroadcastFromAnyRoot) {
  std::vector<std::vector<double>> out(kRanks);
  run_ranks(comms_, [&](int r) {
    Backend& b = *backends_[r];
    Buffer<double> data(b, std::vector<double>{static_cast<double>(r), -static_cast<double>(r), 7.0});
    comms_[r]->broadcast(b, data.data(), static_cast<int64_t>(3 * sizeof(double)), 2);
    out[r] = data.to_host();
  });
  for (int r = 0; r < kRanks; ++r) EXPECT_EQ(out[r], (std::vector<double>{2.0, -2.0, 7.0}));
}

TEST_F(ThreadCommunicatorTest, AFailingRankStopsTheOthersAndItsErrorIsReported) {
  std::atomic<int> stopped{0};
  try {
    run_ranks(comms_, [&](int r) {
      Backend& b = *backends_[r];
      Buffer<double> x(b, std::vector<double>{1.0});
      if (r == 1) COHORT_FAIL(Status::bad_input, "rank 1 read a bad line");
      try {
        comms_[r]->allreduce_sum(b, x.data(), 1);  // waits for rank 1, which never comes
      } catch (const Error&) {
        ++stopped;
        throw;
      }
    });
    FAIL() << "run_ranks returned";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::bad_input);
    EXPECT_NE(std::string(e.what()).find("rank 1 read a bad line"), std::string::npos) << e.what();
  }
  EXPECT_EQ(stopped.load(), 2);
  // The group runs again after a failure (a C API context keeps its workers between calls).
  std::vector<double> sums(kRanks);
  run_ranks(comms_, [&](int r) {
    Buffer<double> x(*backends_[r], std::vector<double>{1.0});
    comms_[r]->allreduce_sum(*backends_[r], x.data(), 1);
    sums[r] = x.to_host()[0];
  });
  EXPECT_EQ(sums, std::vector<double>(kRanks, 3.0));
}

TEST_F(ThreadCommunicatorTest, RanksCallingDifferentCollectivesIsAnErrorNotAHang) {
  try {
    run_ranks(comms_, [&](int r) {
      Backend& b = *backends_[r];
      Buffer<double> x(b, std::vector<double>{1.0, 2.0});
      comms_[r]->allreduce_sum(b, x.data(), r == 2 ? 1 : 2);
    });
    FAIL() << "run_ranks returned";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::internal);
    EXPECT_NE(std::string(e.what()).find("disagree"), std::string::npos) << e.what();
  }
}

TEST(ThreadCommunicator, OneRankRunsOnTheCallingThread) {
  auto comms = make_thread_communicators(1);
  auto backend = make_cpu_backend(1);
  Buffer<float> x(*backend, std::vector<float>{1.5f});
  run_ranks(comms, [&](int r) {
    EXPECT_EQ(r, 0);
    comms[0]->allreduce_sum(*backend, x.data(), 1);
  });
  EXPECT_EQ(x.to_host()[0], 1.5f);
  EXPECT_THROW(make_thread_communicators(0), Error);
}

}  // namespace
}  // namespace cohort
