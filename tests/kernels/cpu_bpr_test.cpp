// The CPU BPR epoch: one SGD step worked by hand, the checkerboard known answer, skip
// counting, determinism on one thread and the degenerate inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <tuple>
#include <vector>

#include "kernels/backend.hpp"
#include "kernels/buffer.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/error.hpp"
#include "kernels/training_fixtures.hpp"

namespace cohort {
namespace {

using testing::BackendCsr;
using testing::Checkerboard;
using testing::HostCsr;
using testing::random_vector;

struct Factors {
  Factors(Backend& backend, const std::vector<float>& u, const std::vector<float>& i, int64_t f)
      : users(backend, u), items(backend, i), f(f) {}
  MatrixView<float> user_view() const { return users.matrix(users.size() / f, f); }
  MatrixView<float> item_view() const { return items.matrix(items.size() / f, f); }
  Buffer<float> users;
  Buffer<float> items;
  int64_t f;
};

double dot(const std::vector<float>& a, int64_t i, const std::vector<float>& b, int64_t j, int64_t f) {
  double s = 0.0;
  for (int64_t q = 0; q < f; ++q) s += static_cast<double>(a[i * f + q]) * b[j * f + q];
  return s;
}

TEST(CpuBprTest, OneStepFollowsTheGradient) {
  // One user whose only positive is item 0 of 2: a drawn triple is (0, 0, 1) or a skip.
  auto backend = make_cpu_backend(1);
  HostCsr m;
  m.cols = 2;
  m.add(0, 1.0f);
  m.end_row();
  BackendCsr csr(*backend, m);
  const std::vector<float> x = {0.5f, -0.25f};
  const std::vector<float> y = {0.1f, 0.2f, -0.3f, 0.4f};
  const float lr = 0.1f;
  const float reg = 0.01f;
  bool updated = false;
  for (uint64_t seed = 0; seed < 32 && !updated; ++seed) {
    Factors fx(*backend, x, y, 2);
    const BprStats stats = backend->bpr_epoch(csr.view(), fx.user_view(), fx.item_view(), lr, reg, 1, seed);
    ASSERT_EQ(stats.samples, 1);
    if (stats.skipped == 1) {
      EXPECT_EQ(fx.users.to_host(), x);
      EXPECT_EQ(fx.items.to_host(), y);
      continue;
    }
    updated = true;
    // x_uij = 0.5 (0.1 + 0.3) - 0.25 (0.2 - 0.4) = 0.25
    const float z = 1.0f / (1.0f + std::exp(0.25f));
    EXPECT_EQ(stats.correct, 1);
    const std::vector<float> xu = fx.users.to_host();
    const std::vector<float> yh = fx.items.to_host();
    EXPECT_NEAR(xu[0], 0.5f + lr * (z * 0.4f - reg * 0.5f), 1e-6);
    EXPECT_NEAR(xu[1], -0.25f + lr * (z * -0.2f + reg * 0.25f), 1e-6);
    EXPECT_NEAR(yh[0], 0.1f + lr * (z * 0.5f - reg * 0.1f), 1e-6);
    EXPECT_NEAR(yh[1], 0.2f + lr * (z * -0.25f - reg * 0.2f), 1e-6);
    EXPECT_NEAR(yh[2], -0.3f + lr * (-z * 0.5f + reg * 0.3f), 1e-6);
    EXPECT_NEAR(yh[3], 0.4f + lr * (z * 0.25f - reg * 0.4f), 1e-6);
  }
  EXPECT_TRUE(updated) << "no seed below 32 drew the negative item";
}

TEST(CpuBprTest, CheckerboardIsLearned) {
  auto backend = make_cpu_backend(2);
  const Checkerboard board;
  const HostCsr m = board.matrix(1.0f);
  BackendCsr csr(*backend, m);
  const int64_t f = 8;
  std::mt19937_64 rng(7);
  Factors fx(*backend, random_vector(board.users() * f, 0.1f, rng), random_vector(board.items() * f, 0.1f, rng), f);

  double first_fraction = 0.0;
  double last_fraction = 0.0;
  for (int epoch = 0; epoch < 30; ++epoch) {
    const BprStats s = backend->bpr_epoch(csr.view(), fx.user_view(), fx.item_view(), 0.05f, 0.001f, 4 * m.nnz(),
                                          1000 + epoch);
    ASSERT_EQ(s.samples, 4 * m.nnz());
    const double fraction = static_cast<double>(s.correct) / static_cast<double>(s.samples - s.skipped);
    if (epoch == 0) first_fraction = fraction;
    last_fraction = fraction;
  }
  EXPECT_GT(last_fraction, 0.9);
  EXPECT_GT(last_fraction, first_fraction);

  const std::vector<float> xh = fx.users.to_host();
  const std::vector<float> yh = fx.items.to_host();
  for (int64_t u = 0; u < board.users(); ++u) {
    double worst_own = INFINITY;
    double best_other = -INFINITY;
    for (int64_t i = 0; i < board.items(); ++i) {
      const double s = dot(xh, u, yh, i, f);
      if (board.block_of_item(i) == board.block_of_user(u)) {
        worst_own = std::min(worst_own, s);
      } else {
        best_other = std::max(best_other, s);
      }
    }
    EXPECT_GT(worst_own, best_other) << "user " << u;
  }
}

TEST(CpuBprTest, NegativesThatArePositivesAreSkipped) {
  auto backend = make_cpu_backend(2);
  // User 0 likes every item: all its draws skip. User 1 likes one of 10 items.
  HostCsr m;
  m.cols = 10;
  for (int32_t i = 0; i < 10; ++i) m.add(i, 1.0f);
  m.end_row();
  m.add(3, 1.0f);
  m.end_row();
  BackendCsr csr(*backend, m);
  std::mt19937_64 rng(3);
  const std::vector<float> x = random_vector(2 * 4, 0.1f, rng);
  Factors fx(*backend, x, random_vector(10 * 4, 0.1f, rng), 4);
  const int64_t samples = 11000;
  const BprStats s = backend->bpr_epoch(csr.view(), fx.user_view(), fx.item_view(), 0.05f, 0.0f, samples, 5);
  EXPECT_EQ(s.samples, samples);
  // Expected skips: 10/11 of draws are user 0 (all skip) plus 1/11 * 1/10 for user 1.
  const double expected = samples * (10.0 / 11.0 + 1.0 / 110.0);
  EXPECT_NEAR(static_cast<double>(s.skipped), expected, 6.0 * std::sqrt(samples * 0.08));
  EXPECT_LE(s.correct, s.samples - s.skipped);
  const std::vector<float> xh = fx.users.to_host();
  for (int q = 0; q < 4; ++q) EXPECT_EQ(xh[q], x[q]) << "user 0 never gets an update";
}

TEST(CpuBprTest, OneThreadIsDeterministicForASeed) {
  auto backend = make_cpu_backend(1);
  const Checkerboard board;
  BackendCsr csr(*backend, board.matrix(1.0f));
  std::mt19937_64 rng(11);
  const std::vector<float> x = random_vector(board.users() * 6, 0.1f, rng);
  const std::vector<float> y = random_vector(board.items() * 6, 0.1f, rng);
  auto run = [&](uint64_t seed) {
    Factors fx(*backend, x, y, 6);
    const BprStats s = backend->bpr_epoch(csr.view(), fx.user_view(), fx.item_view(), 0.05f, 0.01f, 2000, seed);
    return std::make_tuple(s.correct, s.skipped, fx.users.to_host(), fx.items.to_host());
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(std::get<2>(run(42)), std::get<2>(run(43)));
}

TEST(CpuBprTest, EmptyInputsDoNothing) {
  auto backend = make_cpu_backend(2);
  HostCsr m;  // 3 users, 5 items, no entries
  m.cols = 5;
  for (int r = 0; r < 3; ++r) m.end_row();
  BackendCsr csr(*backend, m);
  std::mt19937_64 rng(1);
  const std::vector<float> x = random_vector(3 * 4, 0.1f, rng);
  Factors fx(*backend, x, random_vector(5 * 4, 0.1f, rng), 4);
  const BprStats s = backend->bpr_epoch(csr.view(), fx.user_view(), fx.item_view(), 0.05f, 0.01f, 100, 9);
  EXPECT_EQ(s.samples, 0);
  EXPECT_EQ(s.skipped, 0);
  EXPECT_EQ(fx.users.to_host(), x);

  HostCsr none;  // no users, no items
  BackendCsr empty(*backend, none);
  const BprStats e = backend->bpr_epoch(empty.view(), MatrixView<float>(nullptr, 0, 4), MatrixView<float>(nullptr, 0, 4),
                                        0.05f, 0.01f, 100, 9);
  EXPECT_EQ(e.samples, 0);
}

TEST(CpuBprTest, BadArgumentsThrow) {
  auto backend = make_cpu_backend(1);
  const Checkerboard board;
  BackendCsr csr(*backend, board.matrix(1.0f));
  std::mt19937_64 rng(2);
  Factors fx(*backend, random_vector(board.users() * 4, 0.1f, rng), random_vector(board.items() * 4, 0.1f, rng), 4);
  Factors wrong(*backend, random_vector(3 * 4, 0.1f, rng), random_vector(board.items() * 4, 0.1f, rng), 4);
  EXPECT_THROW(backend->bpr_epoch(csr.view(), wrong.user_view(), fx.item_view(), 0.05f, 0.01f, 10, 1), Error);
  EXPECT_THROW(backend->bpr_epoch(csr.view(), fx.user_view(), fx.item_view(), NAN, 0.01f, 10, 1), Error);
  EXPECT_THROW(backend->bpr_epoch(csr.view(), fx.user_view(), fx.item_view(), 0.05f, -1.0f, 10, 1), Error);
  EXPECT_THROW(backend->bpr_epoch(csr.view(), fx.user_view(), fx.item_view(), 0.05f, 0.01f, -1, 1), Error);
  HostCsr unsorted = board.matrix(1.0f);
  std::swap(unsorted.indices[0], unsorted.indices[1]);
  BackendCsr bad(*backend, unsorted);
  EXPECT_THROW(backend->bpr_epoch(bad.view(), fx.user_view(), fx.item_view(), 0.05f, 0.01f, 10, 1), Error);
}

}  // namespace
}  // namespace cohort
