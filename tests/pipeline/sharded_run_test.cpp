// A sharded run matches an unsharded one (architecture.md, SPMD workers): the same engine
// code on 1 and on several thread ranks, each with its own CPU backend, gives the same
// embeddings, groups and metrics.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "engine/cluster/kmeans.hpp"
#include "engine/comm/thread_communicator.hpp"
#include "engine/data/generate.hpp"
#include "engine/data/rows.hpp"
#include "engine/embed/embed.hpp"
#include "engine/pipeline/pipeline.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/error.hpp"

namespace cohort {
namespace {

// Runs work(ctx) on `ranks` thread ranks, each with a one-thread CPU backend; returns each
// rank's result.
template <class T, class Work>
std::vector<T> on_ranks(int ranks, Work work) {
  auto comms = make_thread_communicators(ranks);
  std::vector<std::unique_ptr<Backend>> backends;
  for (int r = 0; r < ranks; ++r) backends.push_back(make_cpu_backend(1));
  std::vector<T> out(static_cast<size_t>(ranks));
  run_ranks(comms, [&](int r) {
    Context ctx{*backends[r], *comms[r], 11, 1, {}};
    out[static_cast<size_t>(r)] = work(ctx);
  });
  return out;
}

const GeneratedData& data() {
  static const GeneratedData d = [] {
    GeneratorConfig gen;
    gen.users = 900;
    gen.items = 300;
    gen.groups = 4;
    gen.item_clusters = 8;
    gen.interactions_per_user = 25;
    gen.seed = 5;
    return generate_dataset(gen);
  }();
  return d;
}

EmbedConfig config_for(ModelKind model, SolverKind solver) {
  EmbedConfig c;
  c.model = model;
  c.solver = solver;
  c.factors = 12;
  c.iterations = 4;
  c.compute_loss = model != ModelKind::bpr;
  return c;
}

class ShardedTraining : public ::testing::TestWithParam<std::tuple<ModelKind, SolverKind>> {};

TEST_P(ShardedTraining, EveryRankHoldsTheOneRankFactorsBitForBit) {
  const auto [model, solver] = GetParam();
  const EmbedConfig config = config_for(model, solver);
  const Csr& train = data().interactions.user_items;
  const auto one = on_ranks<Embeddings>(1, [&](const Context& ctx) { return train_embeddings(ctx, train, config); });
  const auto three = on_ranks<Embeddings>(3, [&](const Context& ctx) { return train_embeddings(ctx, train, config); });
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(three[r].users.data, one[0].users.data) << "rank " << r;
    EXPECT_EQ(three[r].items.data, one[0].items.data) << "rank " << r;
    // The data term is summed over the ranks' blocks, in another order than one rank's.
    EXPECT_NEAR(three[r].final_loss, one[0].final_loss, 1e-9 * std::abs(one[0].final_loss)) << "rank " << r;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, ShardedTraining,
                         ::testing::Values(std::tuple{ModelKind::als, SolverKind::conjugate_gradient},
                                           std::tuple{ModelKind::als, SolverKind::cholesky},
                                           std::tuple{ModelKind::mf, SolverKind::cholesky},
                                           std::tuple{ModelKind::bpr, SolverKind::cholesky}));

TEST(ShardedKMeans, EveryRankHoldsTheOneRankSolution) {
  // Unit user vectors of a short ALS run: clusters with some overlap, so the iterations matter.
  const auto e = on_ranks<Embeddings>(1, [&](const Context& ctx) {
    return train_embeddings(ctx, data().interactions.user_items, config_for(ModelKind::als, SolverKind::cholesky));
  });
  const Matrix x = normalized_rows(e[0].users);
  KMeansConfig config;
  for (int k : {2, 4, 7}) config.problems.push_back({k, 100u + static_cast<uint64_t>(k)});
  config.problems.push_back({4, 9});
  const auto one = on_ranks<std::vector<KMeansSolution>>(1, [&](const Context& ctx) { return batched_kmeans(ctx, x, config); });
  for (int ranks : {2, 3}) {
    const auto many =
        on_ranks<std::vector<KMeansSolution>>(ranks, [&](const Context& ctx) { return batched_kmeans(ctx, x, config); });
    for (int r = 0; r < ranks; ++r) {
      ASSERT_EQ(many[r].size(), one[0].size());
      for (size_t p = 0; p < one[0].size(); ++p) {
        const KMeansSolution& a = one[0][p];
        const KMeansSolution& b = many[r][p];
        EXPECT_EQ(b.labels, a.labels) << ranks << " ranks, rank " << r << ", problem " << p;
        EXPECT_EQ(b.iterations, a.iterations) << ranks << " ranks, problem " << p;
        EXPECT_NEAR(b.inertia, a.inertia, 1e-6 * a.inertia);
        for (size_t i = 0; i < a.centroids.data.size(); ++i)
          ASSERT_NEAR(b.centroids.data[i], a.centroids.data[i], 1e-5f) << "problem " << p << " value " << i;
      }
    }
  }
}

TEST(ShardedKMeans, MoreRanksThanRowsLeavesSomeRanksNothingToAssign) {
  Matrix x(3, 2);
  x.data = {0.0f, 0.0f, 0.0f, 1.0f, 5.0f, 5.0f};
  KMeansConfig config;
  config.problems.push_back({2, 3});
  const auto one = on_ranks<std::vector<KMeansSolution>>(1, [&](const Context& ctx) { return batched_kmeans(ctx, x, config); });
  const auto five = on_ranks<std::vector<KMeansSolution>>(5, [&](const Context& ctx) { return batched_kmeans(ctx, x, config); });
  for (int r = 0; r < 5; ++r) {
    EXPECT_EQ(five[r][0].labels, one[0][0].labels);
    EXPECT_EQ(five[r][0].centroids.data, one[0][0].centroids.data);
  }
  EXPECT_NE(one[0][0].labels[0], one[0][0].labels[2]);
}

TEST(ShardedPipeline, TwoRanksGiveTheOneRankGroupsAndMetrics) {
  PipelineConfig config;
  config.embed.factors = 16;
  config.embed.iterations = 6;
  config.sweep.k_min = 2;
  config.sweep.k_max = 6;
  config.sweep.restarts = 2;
  config.split.seed = 3;
  auto run = [&](const Context& ctx) {
    return run_pipeline(ctx, data().interactions, data().catalog, data().truth, config);
  };
  const auto one = on_ranks<PipelineResult>(1, run);
  const auto two = on_ranks<PipelineResult>(2, run);
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(two[r].groups.assignment, one[0].groups.assignment) << "rank " << r;
    EXPECT_EQ(two[r].metrics.at("groups").at("k"), one[0].metrics.at("groups").at("k"));
    EXPECT_EQ(two[r].metrics.at("groups").at("ari"), one[0].metrics.at("groups").at("ari"));
    EXPECT_EQ(two[r].metrics.at("recommendation"), one[0].metrics.at("recommendation")) << "rank " << r;
  }
}

// Each MPI process reads its own copy of the input: a copy that differs is an error on every
// rank, naming what differs, rather than a hang in a collective or mixed-up results.
TEST(ShardedInputs, RanksWithDifferentDataStopWithAnError) {
  const Csr& train = data().interactions.user_items;
  Csr changed = train;
  changed.values[7] += 1.0f;
  auto comms = make_thread_communicators(3);
  std::vector<std::unique_ptr<Backend>> backends;
  for (int r = 0; r < 3; ++r) backends.push_back(make_cpu_backend(1));
  try {
    run_ranks(comms, [&](int r) {
      Context ctx{*backends[r], *comms[r], 11, 1, {}};
      train_embeddings(ctx, r == 2 ? changed : train, config_for(ModelKind::als, SolverKind::cholesky));
    });
    FAIL() << "the ranks trained on different data";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::bad_input);
    const std::string what = e.what();
    EXPECT_NE(what.find("differ between the workers: rank(s) 2"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace cohort
