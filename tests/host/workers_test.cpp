// The workers of a run: which backend each thread worker takes, and the set make_workers
// builds (without a GPU here: CPU workers sharing the threads).
#include <gtest/gtest.h>

#include "host/workers.hpp"
#include "kernels/error.hpp"

namespace cohort {
namespace {

TEST(WorkerBackendKind, SpreadsTheWorkersOverTheGpus) {
  EXPECT_EQ(worker_backend_kind("cuda", 0, 4, 2), "cuda:0");
  EXPECT_EQ(worker_backend_kind("cuda", 1, 4, 2), "cuda:1");
  EXPECT_EQ(worker_backend_kind("cuda", 3, 4, 2), "cuda:1");
  EXPECT_EQ(worker_backend_kind("auto", 2, 3, 8), "cuda:2");
}

TEST(WorkerBackendKind, WithoutAGpu) {
  EXPECT_EQ(worker_backend_kind("auto", 1, 2, 0), "cpu");
  EXPECT_EQ(worker_backend_kind("cpu", 1, 2, 4), "cpu");
  EXPECT_EQ(worker_backend_kind("cuda", 1, 2, 0), "cuda");  // make_backend then says there is no GPU
}

TEST(WorkerBackendKind, ANamedGpuServesOneWorker) {
  EXPECT_EQ(worker_backend_kind("cuda:1", 0, 1, 2), "cuda:1");
  try {
    worker_backend_kind("cuda:1", 0, 2, 2);
    FAIL() << "two workers on one named GPU";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("names one GPU"), std::string::npos) << e.what();
  }
}

TEST(MakeWorkers, CpuWorkersShareTheThreads) {
  BackendOptions options;
  options.threads = 4;
  const Workers w = make_workers("cpu", 3, options);
  ASSERT_EQ(w.backends.size(), 3u);
  ASSERT_EQ(w.comms.size(), 3u);
  EXPECT_EQ(w.threads_each, 1);
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(w.comms[r]->rank(), r);
    EXPECT_EQ(w.comms[r]->size(), 3);
    EXPECT_EQ(w.backends[r]->name(), "cpu");
    EXPECT_NE(w.backends[r]->description().find("cpu: 1 OpenMP threads"), std::string::npos)
        << w.backends[r]->description();
  }
  const Workers one = make_workers("cpu", 1, options);
  ASSERT_EQ(one.comms.size(), 1u);
  EXPECT_EQ(one.comms[0]->size(), 1);
  EXPECT_THROW(make_workers("cpu", 0, options), Error);
}

}  // namespace
}  // namespace cohort
