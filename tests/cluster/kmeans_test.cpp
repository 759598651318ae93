#include "engine/cluster/kmeans.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "engine/comm/communicator.hpp"
#include "kernels/error.hpp"
#include "kernels/registry.hpp"

namespace cohort {
namespace {

struct Blobs {
  Matrix x;
  std::vector<int32_t> truth;
};

// `per_blob` rows around each centre with Gaussian noise of the given sigma.
Blobs make_blobs(const std::vector<std::vector<float>>& centres, int per_blob, float sigma, uint64_t seed) {
  const int64_t d = static_cast<int64_t>(centres[0].size());
  Blobs b;
  b.x = Matrix(static_cast<int64_t>(centres.size()) * per_blob, d);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.0f, sigma);
  int64_t row = 0;
  // Interleave the blobs so that row order says nothing about the labels.
  for (int i = 0; i < per_blob; ++i)
    for (size_t c = 0; c < centres.size(); ++c, ++row) {
      for (int64_t j = 0; j < d; ++j) b.x.row(row)[j] = centres[c][j] + noise(rng);
      b.truth.push_back(static_cast<int32_t>(c));
    }
  return b;
}

// Four centres 20 apart in 6-D.
std::vector<std::vector<float>> four_centres() {
  return {{0, 0, 0, 0, 0, 0}, {20, 0, 0, 0, 0, 0}, {0, 20, 0, 0, 0, 0}, {0, 0, 20, 0, 0, 20}};
}

// True when found and truth are the same partition: a bijection between their labels.
bool same_partition(const std::vector<int32_t>& found, const std::vector<int32_t>& truth) {
  if (found.size() != truth.size()) return false;
  std::map<int32_t, int32_t> forward, backward;
  for (size_t i = 0; i < found.size(); ++i) {
    auto [f, fnew] = forward.emplace(found[i], truth[i]);
    auto [b, bnew] = backward.emplace(truth[i], found[i]);
    if (f->second != truth[i] || b->second != found[i]) return false;
  }
  return true;
}

// The CPU backend with k-means++ replaced by planted starting centroids, to drive k-means
// into states that seeding never produces.
class PlantedSeedsBackend final : public Backend {
 public:
  PlantedSeedsBackend(Backend& inner, std::vector<float> seeds) : inner_(inner), seeds_(std::move(seeds)) {}

  std::string name() const override { return inner_.name(); }
  std::string description() const override { return inner_.description(); }
  bool on_device() const override { return inner_.on_device(); }
  void* allocate(std::size_t bytes) override { return inner_.allocate(bytes); }
  void release(void* ptr) noexcept override { inner_.release(ptr); }
  void copy_to_backend(void* dst, const void* src, std::size_t bytes) override { inner_.copy_to_backend(dst, src, bytes); }
  void copy_to_host(void* dst, const void* src, std::size_t bytes) override { inner_.copy_to_host(dst, src, bytes); }
  void copy_within(void* dst, const void* src, std::size_t bytes) override { inner_.copy_within(dst, src, bytes); }
  void fill_zero(void* dst, std::size_t bytes) override { inner_.fill_zero(dst, bytes); }
  void synchronize() override { inner_.synchronize(); }
  void gemm_nt(float alpha, MatrixView<const float> a, MatrixView<const float> b, float beta,
               MatrixView<float> c) override {
    inner_.gemm_nt(alpha, a, b, beta, c);
  }
  void row_sq_norms(MatrixView<const float> x, float* out) override { inner_.row_sq_norms(x, out); }
  void normalize_rows(MatrixView<float> x) override { inner_.normalize_rows(x); }
  void distances_from_dots(MatrixView<float> dots, const float* row_sq, const float* col_sq,
                           int64_t self_offset) override {
    inner_.distances_from_dots(dots, row_sq, col_sq, self_offset);
  }
  void topk_cosine(CsrView a, CsrView a_t, int64_t begin, int64_t end, int k, bool exclude_self, int32_t* index,
                   float* score) override {
    inner_.topk_cosine(a, a_t, begin, end, k, exclude_self, index, score);
  }
  void gram(MatrixView<const float> y, float* out) override { inner_.gram(y, out); }
  void als_solve(CsrView rows, MatrixView<const float> y, const float* g, float reg, AlsMode mode, SolverKind solver,
                 int cg_steps, MatrixView<float> x) override {
    inner_.als_solve(rows, y, g, reg, mode, solver, cg_steps, x);
  }
  double als_loss(CsrView rows, MatrixView<const float> x, MatrixView<const float> y, const float* g,
                  AlsMode mode) override {
    return inner_.als_loss(rows, x, y, g, mode);
  }
  BprStats bpr_epoch(CsrView ui, MatrixView<float> users, MatrixView<float> items, float lr, float reg,
                     int64_t samples, uint64_t seed) override {
    return inner_.bpr_epoch(ui, users, items, lr, reg, samples, seed);
  }
  void kmeans_assign(MatrixView<const float> x, const float* x_sq, MatrixView<const float> c, const int64_t* offsets,
                     int problems, int32_t* labels, float* best, float* second) override {
    inner_.kmeans_assign(x, x_sq, c, offsets, problems, labels, best, second);
  }
  void kmeans_accumulate(MatrixView<const float> x, const int32_t* labels, const int64_t* offsets, int problems,
                         double* sums, double* counts) override {
    inner_.kmeans_accumulate(x, labels, offsets, problems, sums, counts);
  }
  void kmeans_finalize(const double* sums, const double* counts, MatrixView<float> c) override {
    inner_.kmeans_finalize(sums, counts, c);
  }
  void sum_per_problem(const float* values, int64_t n, int problems, double* out) override {
    inner_.sum_per_problem(values, n, problems, out);
  }
  void kmeans_plus_plus(MatrixView<const float> x, const float*, int k, uint64_t, MatrixView<float> c) override {
    ASSERT_EQ(static_cast<size_t>(k * x.cols), seeds_.size());
    inner_.copy_to_backend(c.data, seeds_.data(), seeds_.size() * sizeof(float));
  }
  void score_topk(const ScoreTerms& terms, int64_t rows, int64_t items, CsrView exclude, int k, int32_t* index,
                  float* score) override {
    inner_.score_topk(terms, rows, items, exclude, k, index, score);
  }
  void knn_score_topk(CsrView ui, const int32_t* ni, const float* ns, int neighbours, int64_t items,
                      CsrView exclude, int k, int32_t* index, float* score) override {
    inner_.knn_score_topk(ui, ni, ns, neighbours, items, exclude, k, index, score);
  }

 private:
  Backend& inner_;
  std::vector<float> seeds_;
};

class KMeansTest : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> backend_ = make_backend("cpu");
  std::unique_ptr<Communicator> comm_ = make_self_communicator();
  Context ctx_{*backend_, *comm_, 7, 0, {}};

  std::vector<KMeansSolution> run(const Matrix& x, std::vector<KMeansProblem> problems,
                                  KMeansMetric metric = KMeansMetric::euclidean, int max_iterations = 50) {
    KMeansConfig config;
    config.problems = std::move(problems);
    config.metric = metric;
    config.max_iterations = max_iterations;
    return batched_kmeans(ctx_, x, config);
  }
};

TEST_F(KMeansTest, RecoversSeparatedBlobsExactly) {
  const Blobs blobs = make_blobs(four_centres(), 50, 0.5f, 3);
  for (uint64_t seed : {1u, 2u, 3u}) {
    const KMeansSolution s = run(blobs.x, {{4, seed}})[0];
    EXPECT_TRUE(same_partition(s.labels, blobs.truth)) << "seed " << seed;
    ASSERT_EQ(s.centroids.rows, 4);
    ASSERT_EQ(s.centroids.cols, 6);
    ASSERT_EQ(s.distance.size(), blobs.truth.size());
    ASSERT_EQ(s.margin.size(), blobs.truth.size());
    double sum = 0.0;
    for (size_t i = 0; i < s.distance.size(); ++i) {
      EXPECT_GE(s.distance[i], 0.0f);
      EXPECT_GT(s.margin[i], 100.0f);  // every row is far nearer its own blob
      sum += s.distance[i];
    }
    EXPECT_NEAR(s.inertia, sum, 1e-3 * sum);
    // Six coordinates of noise with sigma 0.5 per row, less the fitted means' share.
    EXPECT_NEAR(s.inertia / 200.0, 6 * 0.25, 0.3);
    EXPECT_GE(s.iterations, 1);
    EXPECT_EQ(s.empty_repaired, 0);
  }
}

TEST_F(KMeansTest, CentroidsAreTheMeansOfTheirRows) {
  const Blobs blobs = make_blobs(four_centres(), 30, 1.0f, 5);
  const KMeansSolution s = run(blobs.x, {{4, 11}})[0];
  for (int c = 0; c < 4; ++c) {
    std::vector<double> mean(6, 0.0);
    int count = 0;
    for (int64_t i = 0; i < blobs.x.rows; ++i)
      if (s.labels[i] == c) {
        ++count;
        for (int j = 0; j < 6; ++j) mean[j] += blobs.x.row(i)[j];
      }
    ASSERT_GT(count, 0);
    for (int j = 0; j < 6; ++j) EXPECT_NEAR(s.centroids.row(c)[j], mean[j] / count, 1e-4);
  }
}

TEST_F(KMeansTest, BatchedProblemsEqualEachRunAlone) {
  const Blobs blobs = make_blobs(four_centres(), 40, 3.0f, 9);
  const std::vector<KMeansProblem> problems = {{2, 5}, {3, 7}, {5, 9}, {4, 11}, {1, 13}, {6, 15}};
  const std::vector<KMeansSolution> batch = run(blobs.x, problems);
  ASSERT_EQ(batch.size(), problems.size());
  std::set<int> iteration_counts;
  for (size_t p = 0; p < problems.size(); ++p) {
    const KMeansSolution alone = run(blobs.x, {problems[p]})[0];
    const KMeansSolution& b = batch[p];
    EXPECT_EQ(b.k, problems[p].k);
    EXPECT_EQ(b.seed, problems[p].seed);
    EXPECT_EQ(b.labels, alone.labels) << "problem " << p;
    EXPECT_EQ(b.iterations, alone.iterations) << "problem " << p;
    EXPECT_NEAR(b.inertia, alone.inertia, 1e-5 * alone.inertia) << "problem " << p;
    for (size_t e = 0; e < b.centroids.data.size(); ++e)
      EXPECT_NEAR(b.centroids.data[e], alone.centroids.data[e], 1e-4) << "problem " << p;
    iteration_counts.insert(b.iterations);
  }
  // Problems stopped at different iterations, so the packed path (converged problems
  // dropped from the assignment) was taken.
  EXPECT_GT(iteration_counts.size(), 1u);
}

TEST_F(KMeansTest, DeterministicForSeeds) {
  const Blobs blobs = make_blobs(four_centres(), 40, 4.0f, 1);
  const std::vector<KMeansProblem> problems = {{3, 1}, {5, 2}, {5, 3}};
  const auto a = run(blobs.x, problems);
  const auto b = run(blobs.x, problems);
  for (size_t p = 0; p < problems.size(); ++p) {
    EXPECT_EQ(a[p].labels, b[p].labels);
    EXPECT_EQ(a[p].centroids.data, b[p].centroids.data);
    EXPECT_EQ(a[p].margin, b[p].margin);
    EXPECT_EQ(a[p].inertia, b[p].inertia);
  }
}

TEST_F(KMeansTest, SingleClusterIsTheMean) {
  Matrix x(4, 2);
  x.data = {0, 0, 2, 0, 0, 4, 2, 4};
  const KMeansSolution s = run(x, {{1, 3}})[0];
  EXPECT_NEAR(s.centroids.row(0)[0], 1.0f, 1e-6);
  EXPECT_NEAR(s.centroids.row(0)[1], 2.0f, 1e-6);
  EXPECT_EQ(s.labels, std::vector<int32_t>(4, 0));
  EXPECT_EQ(s.margin, std::vector<float>(4, 0.0f));
  EXPECT_NEAR(s.inertia, 4 * 5.0, 1e-4);  // each corner is sqrt(5) from (1, 2)
}

// Rows 0 1 2 10 11 12, starting centroids 1, 100, 11: nothing is nearest 100.
//   iteration 1: {0, 1, 2} -> 1, {10, 11, 12} -> 11; cluster 1 is empty. The farthest rows
//                (distance 1: x = 0, 2, 10, 12) tie; the first, x = 0, re-seeds it.
//   iteration 2: 0 -> cluster 1; {1, 2} -> 1.5; {10, 11, 12} -> 11 (inertia 3 against 1, 0, 11).
//   iterations 3 and 4: the same labels, inertia 0 + (0.25 + 0.25) + (1 + 0 + 1) = 2.5 twice: stop.
TEST_F(KMeansTest, EmptyClusterIsReseededWithTheFarthestRow) {
  PlantedSeedsBackend planted(*backend_, {1.0f, 100.0f, 11.0f});
  Context ctx{planted, *comm_, 1, 0, {}};
  Matrix x(6, 1);
  x.data = {0, 1, 2, 10, 11, 12};
  KMeansConfig config;
  config.problems = {{3, 1}};
  const KMeansSolution s = batched_kmeans(ctx, x, config)[0];
  EXPECT_EQ(s.empty_repaired, 1);
  EXPECT_EQ(s.labels, (std::vector<int32_t>{1, 0, 0, 2, 2, 2}));
  EXPECT_EQ(s.centroids.data, (std::vector<float>{1.5f, 0.0f, 11.0f}));
  EXPECT_NEAR(s.inertia, 2.5, 1e-5);
  EXPECT_EQ(s.iterations, 4);
}

// Three distinct rows, k = 5: two clusters can never hold a row. They stay empty (nothing
// lies off a centroid to re-seed them with), the labels name the three others, the run ends.
TEST_F(KMeansTest, MoreClustersThanDistinctRowsLeavesTheSurplusEmpty) {
  Matrix x(9, 2);
  for (int i = 0; i < 9; ++i) {
    x.row(i)[0] = static_cast<float>(i % 3) * 10.0f;
    x.row(i)[1] = 1.0f;
  }
  const KMeansSolution s = run(x, {{5, 1}}, KMeansMetric::euclidean, 20)[0];
  std::set<int32_t> used(s.labels.begin(), s.labels.end());
  EXPECT_EQ(used.size(), 3u);
  for (int32_t l : s.labels) EXPECT_TRUE(l >= 0 && l < 5);
  EXPECT_NEAR(s.inertia, 0.0, 1e-6);
  EXPECT_EQ(s.empty_repaired, 0);
  EXPECT_LT(s.iterations, 20);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(s.labels[i], s.labels[i % 3]);
}

// Rows along three directions with magnitudes from 0.1 to 100: Euclidean k-means splits by
// length, spherical k-means by direction.
TEST_F(KMeansTest, CosineClustersDirections) {
  const std::vector<std::vector<float>> directions = {{1, 0, 0}, {0, 1, 0}, {0.6f, 0, 0.8f}};
  Matrix x(90, 3);
  std::vector<int32_t> truth;
  std::mt19937_64 rng(4);
  std::normal_distribution<float> noise(0.0f, 0.05f);
  std::uniform_real_distribution<float> length(-1.0f, 2.0f);
  for (int i = 0; i < 90; ++i) {
    const int c = i % 3;
    const float scale = std::pow(10.0f, length(rng));
    for (int j = 0; j < 3; ++j) x.row(i)[j] = scale * (directions[c][j] + noise(rng));
    truth.push_back(c);
  }
  const KMeansSolution s = run(x, {{3, 2}}, KMeansMetric::cosine)[0];
  EXPECT_TRUE(same_partition(s.labels, truth));
  for (int c = 0; c < 3; ++c) {
    double norm = 0.0;
    for (int j = 0; j < 3; ++j) norm += s.centroids.row(c)[j] * s.centroids.row(c)[j];
    EXPECT_NEAR(norm, 1.0, 1e-5);
  }
  // Inertia between unit vectors is small for tight directions.
  EXPECT_LT(s.inertia / 90.0, 0.02);
  EXPECT_FALSE(same_partition(run(x, {{3, 2}})[0].labels, truth));
}

TEST_F(KMeansTest, ReportsProgress) {
  std::vector<ProgressEvent> events;
  ctx_.progress = [&](const ProgressEvent& e) { events.push_back(e); };
  const Blobs blobs = make_blobs(four_centres(), 10, 0.5f, 2);
  run(blobs.x, {{2, 1}, {4, 2}});
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].phase, "kmeans");
  EXPECT_EQ(events[0].step, 1);
  EXPECT_EQ(events[0].total, 50);
  EXPECT_EQ(events[0].detail, "2 problems active");
}

TEST_F(KMeansTest, RejectsBadInput) {
  const Blobs blobs = make_blobs(four_centres(), 2, 0.5f, 2);  // 8 rows
  EXPECT_THROW(run(blobs.x, {}), Error);
  EXPECT_THROW(run(blobs.x, {{0, 1}}), Error);
  EXPECT_THROW(run(blobs.x, {{9, 1}}), Error);
  EXPECT_THROW(run(blobs.x, {{2, 1}}, KMeansMetric::euclidean, 0), Error);
  EXPECT_THROW(run(Matrix(0, 3), {{1, 1}}), Error);
  Matrix bad = blobs.x;
  bad.row(3)[1] = std::nanf("");
  try {
    run(bad, {{2, 1}});
    FAIL() << "NaN accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::bad_input);
    EXPECT_NE(std::string(e.what()).find("x(3, 1)"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cohort
