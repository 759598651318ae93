// The whole pipeline on the CUDA backend, compiled for the CPU emulation of the device
// (tests/CMakeLists.txt links cohort_cuda_emulated), against the same job on the CPU backend:
// every phase that `cohort pipeline --backend cuda` sends to the GPU (iALS or BPR training,
// the k-means sweep and k-means++ seeding, silhouette from device distances, item-item cosine,
// scoring with seen items masked, fold-in of cold-start users) runs through the CUDA
// launchers and kernels, and the job's results must agree with the CPU's: the same k, the
// same groups up to a few users, recommendation quality within a few percent. The kernels
// are checked one by one in backend_diff_emulated_test; this checks how the engine uses them.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/comm/thread_communicator.hpp"
#include "engine/data/generate.hpp"
#include "engine/evaluate/metrics.hpp"
#include "engine/pipeline/pipeline.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cuda/cuda_backend.hpp"

namespace cohort {
namespace {

const GeneratedData& data() {
  static const GeneratedData generated = [] {
    GeneratorConfig gen;
    gen.users = 1200;
    gen.items = 300;
    gen.groups = 5;
    gen.item_clusters = 10;
    gen.interactions_per_user = 30;
    gen.seed = 11;
    return generate_dataset(gen);
  }();
  return generated;
}

PipelineConfig config_for(const std::string& backend_name, const std::string& model) {
  PipelineConfig config;
  config.embed.model = parse_model_kind(model);
  config.embed.factors = 24;  // not a multiple of 32
  config.embed.iterations = model == "bpr" ? 20 : 8;
  // The Cholesky solve: conjugate gradient takes about 4x as long on the emulation (30 s for
  // the iALS run; its block sums and shuffles switch every fiber of the block many times per
  // row). backend_diff_emulated_test covers both solvers.
  config.embed.solver = SolverKind::cholesky;
  config.sweep.k_min = 2;
  config.sweep.k_max = 8;
  config.sweep.restarts = 2;
  config.split.seed = 11;
  config.backend_name = backend_name;
  return config;
}

PipelineResult run_on(Backend& backend, const std::string& backend_name, const std::string& model) {
  auto comm = make_self_communicator();
  Context ctx{backend, *comm, 11, 0, {}};
  return run_pipeline(ctx, data().interactions, data().catalog, data().truth, config_for(backend_name, model));
}

// One pipeline per (backend, model), run on first use and kept for the other tests.
const PipelineResult& pipeline(const std::string& backend_name, const std::string& model) {
  static std::map<std::string, std::unique_ptr<PipelineResult>> runs;
  auto& slot = runs[backend_name + "/" + model];
  if (!slot) {
    static std::unique_ptr<Backend> cpu = make_cpu_backend(0);
    static std::unique_ptr<Backend> gpu = make_cuda_backend(0);
    static std::unique_ptr<Backend> tf32_gpu = make_cuda_backend(0, true);  // --tf32
    Backend& backend = backend_name == "cpu" ? *cpu : backend_name == "cuda" ? *gpu : *tf32_gpu;
    slot = std::make_unique<PipelineResult>(run_on(backend, backend_name, model));
  }
  return *slot;
}

double ndcg(const PipelineResult& r, const std::string& set, const std::string& recommender) {
  const auto& rec = r.metrics.at("recommendation");
  const auto& s = set == "warm" ? rec.at("warm") : rec.at("cold_start").at(set);
  return s.at(recommender).at("ndcg@10").get<double>();
}

class PipelineOnEmulatedCuda : public ::testing::TestWithParam<std::string> {};

TEST_P(PipelineOnEmulatedCuda, SaysItRanOnCuda) {
  EXPECT_EQ(pipeline("cuda", GetParam()).metrics.at("config").at("backend").get<std::string>(), "cuda");
}

TEST_P(PipelineOnEmulatedCuda, FindsTheSameGroupsAsTheCpu) {
  const auto& cpu = pipeline("cpu", GetParam());
  const auto& gpu = pipeline("cuda", GetParam());
  const auto& cg = cpu.metrics.at("groups");
  const auto& gg = gpu.metrics.at("groups");
  const int k_cpu = cg.at("k").get<int>();
  const int k_gpu = gg.at("k").get<int>();
  const double ari_cpu = cg.at("ari").get<double>();  // against the planted groups
  const double ari_gpu = gg.at("ari").get<double>();
  if (GetParam() == "als") {
    // iALS is deterministic up to float rounding: the same k, and the two runs' groups agree
    // user by user.
    EXPECT_EQ(k_gpu, k_cpu);
    EXPECT_GE(ari_gpu, 0.9);
    EXPECT_NEAR(ari_gpu, ari_cpu, 0.03);
    EXPECT_NEAR(gg.at("silhouette").get<double>(), cg.at("silhouette").get<double>(), 0.02);
    ASSERT_EQ(gpu.groups.assignment.size(), cpu.groups.assignment.size());
    EXPECT_GE(adjusted_rand_index(gpu.groups.assignment, cpu.groups.assignment), 0.95);
    // The sweep's scores of every k (silhouettes from distances computed on the device): the
    // emulation rounds as the CPU does, so they agree to about 1e-7.
    const auto& cs = cg.at("k_scores");
    const auto& gs = gg.at("k_scores");
    ASSERT_EQ(gs.size(), cs.size());
    for (size_t i = 0; i < cs.size(); ++i) {
      const double inertia = cs[i].at("inertia").get<double>();
      EXPECT_NEAR(gs[i].at("silhouette").get<double>(), cs[i].at("silhouette").get<double>(), 1e-3) << "k " << i;
      EXPECT_NEAR(gs[i].at("inertia").get<double>(), inertia, 1e-4 * inertia) << "k " << i;
    }
  } else {
    // BPR's SGD takes its samples in another order on the GPU (its own random stream, many
    // threads at once), and its groups on this small set are weak (ARI about 0.7, an extra
    // group): they must be as good, not the same.
    EXPECT_NEAR(k_gpu, k_cpu, 1);
    EXPECT_NEAR(ari_gpu, ari_cpu, 0.1);
  }
}

TEST_P(PipelineOnEmulatedCuda, RecommendsAsWellAsTheCpu) {
  const auto& cpu = pipeline("cpu", GetParam());
  const auto& gpu = pipeline("cuda", GetParam());
  for (const std::string set : {"warm", "1", "3", "5"}) {
    for (const std::string& recommender : std::vector<std::string>{"popularity", GetParam(), "item_knn", "group", "blend", "text"}) {
      const double c = ndcg(cpu, set, recommender);
      const double g = ndcg(gpu, set, recommender);
      // Float sums in another order move training a little; the protocol's split is the same.
      EXPECT_NEAR(g, c, 0.01 + 0.05 * c) << set << " " << recommender;
    }
  }
  // Popularity does not touch the backend: exactly equal.
  EXPECT_EQ(ndcg(gpu, "warm", "popularity"), ndcg(cpu, "warm", "popularity"));
}

TEST_P(PipelineOnEmulatedCuda, EmbeddingsAreFinite) {
  const auto& gpu = pipeline("cuda", GetParam());
  for (float v : gpu.embeddings.users.data) ASSERT_TRUE(std::isfinite(v));
  for (float v : gpu.embeddings.items.data) ASSERT_TRUE(std::isfinite(v));
}

// --tf32: the k-means distances from TF32 tensor cores, the doubtful rows rechecked in FP32.
// The groups must be the FP32 run's: same k, the same users together.
TEST(PipelineOnEmulatedCudaTf32, FindsTheFp32Groups) {
  const auto& fp32 = pipeline("cuda", "als");
  const auto& tf32 = pipeline("cuda-tf32", "als");
  EXPECT_NE(tf32.metrics.at("config").at("backend_description").get<std::string>().find("TF32"), std::string::npos);
  EXPECT_EQ(tf32.metrics.at("groups").at("k").get<int>(), fp32.metrics.at("groups").at("k").get<int>());
  ASSERT_EQ(tf32.groups.assignment.size(), fp32.groups.assignment.size());
  EXPECT_GE(adjusted_rand_index(tf32.groups.assignment, fp32.groups.assignment), 0.99);
  EXPECT_NEAR(tf32.metrics.at("groups").at("silhouette").get<double>(),
              fp32.metrics.at("groups").at("silhouette").get<double>(), 1e-3);
}

// Two workers, each with its own emulated CUDA backend: the half-steps on row blocks
// (rebased CSR, long-row chunks cut by the block's share), item-kNN on item blocks and the
// collectives staging device buffers through host memory give the one-worker CUDA run's job.
TEST(PipelineOnEmulatedCudaWorkers, TwoWorkersGiveTheOneWorkerGroupsAndQuality) {
  const auto& one = pipeline("cuda", "als");
  auto comms = make_thread_communicators(2);
  std::vector<std::unique_ptr<Backend>> backends;
  for (int r = 0; r < 2; ++r) backends.push_back(make_cuda_backend(0));
  std::vector<PipelineResult> results(2);
  run_ranks(comms, [&](int r) {
    Context ctx{*backends[r], *comms[r], 11, 0, {}};
    results[r] = run_pipeline(ctx, data().interactions, data().catalog, data().truth, config_for("cuda", "als"));
  });
  for (int r = 0; r < 2; ++r) {
    const PipelineResult& two = results[r];
    EXPECT_EQ(two.metrics.at("config").at("workers").get<int>(), 2);
    EXPECT_EQ(two.metrics.at("groups").at("k").get<int>(), one.metrics.at("groups").at("k").get<int>());
    ASSERT_EQ(two.groups.assignment.size(), one.groups.assignment.size());
    EXPECT_GE(adjusted_rand_index(two.groups.assignment, one.groups.assignment), 0.99) << "rank " << r;
    for (const std::string recommender : {"als", "item_knn", "group", "blend", "text"})
      EXPECT_NEAR(ndcg(two, "warm", recommender), ndcg(one, "warm", recommender), 0.005) << recommender;
  }
  // Every worker holds the same model.
  EXPECT_EQ(results[1].embeddings.users.data, results[0].embeddings.users.data);
  EXPECT_EQ(results[1].groups.assignment, results[0].groups.assignment);
}

INSTANTIATE_TEST_SUITE_P(Models, PipelineOnEmulatedCuda, ::testing::Values("als", "bpr"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace cohort
