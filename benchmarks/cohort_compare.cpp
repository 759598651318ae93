// cohort_compare: cohort's side of the comparison with implicit, FAISS and scikit-learn
// (benchmarks/compare). Each subcommand times one operation on the CPU backend and prints one
// JSON object on stdout; the Python harness runs the baselines on the files it writes.
//
//   split   reads a log, applies the evaluation.md split and exports it as .npy CSR parts
//   als|bpr trains on the split's training matrix; factors as .npy, own warm NDCG/recall
//   cosine  item-item cosine top-k of the training matrix
//   kmeans  k-means on an .npy matrix: a whole sweep batched, or one call per problem (--loop)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/cluster/kmeans.hpp"
#include "engine/comm/communicator.hpp"
#include "engine/data/cache.hpp"
#include "engine/data/items.hpp"
#include "engine/data/read.hpp"
#include "engine/data/rows.hpp"
#include "engine/data/split.hpp"
#include "engine/embed/embed.hpp"
#include "engine/evaluate/metrics.hpp"
#include "engine/io/files.hpp"
#include "engine/recommend/recommend.hpp"
#include "kernels/cpu/blas_kernels.hpp"
#include "kernels/error.hpp"
#include "kernels/registry.hpp"

namespace cohort {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// The CPU backend with the asked thread count, and a single-rank communicator.
struct Runtime {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Communicator> comm;
  Context context(uint64_t seed, int threads) { return Context{*backend, *comm, seed, threads, {}}; }
  explicit Runtime(int threads)
      : backend(make_backend("cpu", BackendOptions{threads})), comm(make_self_communicator()) {}
};

const char* kCacheName = "interactions.cache";
const char* kShapeName = "shape.json";

void write_text_lines(const std::string& path, const std::vector<std::string>& lines) {
  write_file_atomically(path, [&](std::ostream& out) {
    for (const auto& line : lines) out << line << '\n';
  });
}

void write_csr(const std::string& dir, const std::string& name, const Csr& m) {
  write_npy(dir + "/" + name + "_indptr.npy", m.indptr);
  write_npy(dir + "/" + name + "_indices.npy", m.indices);
  write_npy(dir + "/" + name + "_data.npy", m.values);
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  COHORT_CHECK_STATUS(in.good(), Status::io_error, "{}: cannot open (run `cohort_compare split` first)", path);
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    COHORT_FAIL(Status::bad_input, "{}: not valid JSON: {}", path, e.what());
  }
}

// The split of a directory written by `split`: the cached log split again with the same seed.
// The counts recorded at export time must match, so both sides see the same matrices.
Split load_split(const std::string& dir) {
  const nlohmann::json shape = read_json(dir + "/" + kShapeName);
  const Interactions data = read_cache(dir + "/" + kCacheName);
  SplitOptions options;
  options.seed = shape.at("seed").get<uint64_t>();
  Split split = split_interactions(data, options);
  COHORT_CHECK_STATUS(split.train.nnz() == shape.at("train").get<int64_t>() &&
                          split.warm_test.nnz() == shape.at("test").get<int64_t>(),
                      Status::bad_input, "{}: the split no longer matches {} (train {} vs {}); export it again", dir,
                      kShapeName, split.train.nnz(), shape.at("train").get<int64_t>());
  return split;
}

struct SplitArgs {
  std::string input;
  std::string truth;
  std::string out;
  uint64_t seed = 42;
};

nlohmann::json run_split(const SplitArgs& a) {
  auto start = Clock::now();
  const Interactions data = read_interactions(a.input, ReadOptions{});
  const double load_s = seconds_since(start);
  start = Clock::now();
  SplitOptions options;
  options.seed = a.seed;
  const Split split = split_interactions(data, options);
  const double split_s = seconds_since(start);

  make_directories(a.out);
  write_cache(a.out + "/" + kCacheName, data);
  write_csr(a.out, "train", split.train);
  write_csr(a.out, "test", split.warm_test);
  for (const ColdStartSet& cold : split.cold) {
    write_csr(a.out, fmt::format("cold{}_revealed", cold.revealed_count), cold.revealed);
    write_csr(a.out, fmt::format("cold{}_test", cold.revealed_count), cold.test);
  }
  write_npy(a.out + "/cold_users.npy", split.cold_users);
  write_text_lines(a.out + "/user_ids.txt", data.user_ids);
  write_text_lines(a.out + "/item_ids.txt", data.item_ids);
  if (!a.truth.empty()) write_npy(a.out + "/truth.npy", read_truth(a.truth, data.user_ids));

  nlohmann::json shape = {{"users", data.users()},
                          {"items", data.items()},
                          {"interactions", data.nnz()},
                          {"train", split.train.nnz()},
                          {"test", split.warm_test.nnz()},
                          {"cold_users", split.cold_users.size()},
                          {"seed", a.seed},
                          {"input", a.input}};
  write_file_atomically(a.out + "/" + kShapeName, [&](std::ostream& out) { out << shape.dump(2) << '\n'; });
  return {{"load_s", load_s}, {"split_s", split_s}, {"users", data.users()}, {"items", data.items()}};
}

struct TrainArgs {
  std::string split;
  std::string out;
  EmbedConfig embed;  // the options bind to its fields; model is set by the subcommand
  std::string solver = "cg";
  int threads = 0;
  uint64_t seed = 42;
};

// NDCG@10 and recall@20 of U.Vt for the warm users with a test set, train items excluded.
MetricSet warm_metrics(const Context& ctx, const Split& split, const Embeddings& e) {
  std::vector<int32_t> users;
  for (int64_t u = 0; u < split.warm_test.rows; ++u)
    if (split.warm_test.row_length(u) > 0) users.push_back(static_cast<int32_t>(u));
  RecommendModel model = build_recommend_model(split.train, std::vector<int32_t>(static_cast<size_t>(split.train.rows), -1), 0);
  model.item_factors = e.items;
  Queries queries;
  queries.seen = select_rows(split.train, users);
  queries.factors = select_rows(e.users, users);
  const TopK recs = recommend(ctx, RecommenderKind::embedding, model, queries, 20);
  return summarize(score_users(recs, select_rows(split.warm_test, users)), recs, model.items);
}

nlohmann::json run_train(ModelKind kind, const TrainArgs& a) {
  const Split split = load_split(a.split);
  Runtime runtime(a.threads);
  const Context ctx = runtime.context(a.seed, a.threads);
  EmbedConfig config = a.embed;
  config.model = kind;
  config.solver = a.solver == "cholesky" ? SolverKind::cholesky : SolverKind::conjugate_gradient;

  const auto start = Clock::now();
  const Embeddings e = train_embeddings(ctx, split.train, config);
  const double fit_s = seconds_since(start);

  make_directories(a.out);
  write_npy(a.out + "/user_factors.npy", e.users);
  write_npy(a.out + "/item_factors.npy", e.items);
  const MetricSet m = warm_metrics(ctx, split, e);
  return {{"model", model_kind_name(kind)},
          {"factors", config.factors},
          {"iterations", config.iterations},
          {"threads", a.threads},
          {"fit_s", fit_s},
          {"s_per_iteration", config.iterations > 0 ? fit_s / config.iterations : 0.0},
          {"ndcg@10", m.at("ndcg@10")},
          {"recall@20", m.at("recall@20")}};
}

struct CosineArgs {
  std::string split;
  std::string out;
  int k = 100;
  int threads = 0;
};

nlohmann::json run_cosine(const CosineArgs& a) {
  const Split split = load_split(a.split);
  Runtime runtime(a.threads);
  const Context ctx = runtime.context(42, a.threads);
  RecommendModel model;
  model.items = split.train.cols;
  const auto start = Clock::now();
  fit_item_knn(ctx, split.train, a.k, model);
  const double fit_s = seconds_since(start);
  make_directories(a.out);
  write_npy(a.out + "/knn_index.npy", model.knn_index);
  write_npy(a.out + "/knn_score.npy", model.knn_score);
  return {{"k", model.knn_neighbours}, {"fit_s", fit_s}};
}

struct KMeansArgs {
  std::string data;
  int k_min = 2;
  int k_max = 32;
  int restarts = 3;
  int k = 0;
  int iterations = 50;
  double tolerance = 1e-4;
  bool loop = false;
  int threads = 0;
  uint64_t seed = 42;
  std::string out;  // where centroids.npy goes; empty: not written
};

nlohmann::json run_kmeans(const KMeansArgs& a) {
  const Matrix x = read_npy(a.data);
  COHORT_CHECK(a.k > 0 || (a.k_min >= 1 && a.k_max >= a.k_min), "kmeans: --k-min {} .. --k-max {} is empty", a.k_min,
               a.k_max);
  KMeansConfig config;
  config.max_iterations = a.iterations;
  config.tolerance = a.tolerance;
  config.metric = KMeansMetric::euclidean;
  struct Tag {
    int k;
    int restart;
  };
  std::vector<Tag> tags;
  const int first = a.k > 0 ? a.k : a.k_min;
  const int last = a.k > 0 ? a.k : a.k_max;
  for (int k = first; k <= last; ++k)
    for (int r = 0; r < a.restarts; ++r) {
      config.problems.push_back({k, a.seed + static_cast<uint64_t>(r)});
      tags.push_back({k, r});
    }

  Runtime runtime(a.threads);
  const Context ctx = runtime.context(a.seed, a.threads);
  std::vector<KMeansSolution> solutions;
  const auto start = Clock::now();
  if (a.loop) {
    for (const KMeansProblem& p : config.problems) {
      KMeansConfig one = config;
      one.problems = {p};
      solutions.push_back(std::move(batched_kmeans(ctx, x, one).front()));
    }
  } else {
    solutions = batched_kmeans(ctx, x, config);
  }
  const double fit_s = seconds_since(start);

  // Every problem's centroids, stacked in problem order (sum of k rows), so the harness can
  // compute cohort's inertia with the same code as the baselines'.
  if (!a.out.empty()) {
    int64_t rows = 0;
    for (const KMeansSolution& s : solutions) rows += s.centroids.rows;
    Matrix stacked(rows, x.cols);
    int64_t at = 0;
    for (const KMeansSolution& s : solutions) {
      std::copy(s.centroids.data.begin(), s.centroids.data.end(), stacked.data.begin() + at * x.cols);
      at += s.centroids.rows;
    }
    make_directories(a.out);
    write_npy(a.out + "/centroids.npy", stacked);
  }

  nlohmann::json problems = nlohmann::json::array();
  for (size_t i = 0; i < solutions.size(); ++i)
    problems.push_back({{"k", tags[i].k},
                        {"restart", tags[i].restart},
                        {"inertia", solutions[i].inertia},
                        {"iterations", solutions[i].iterations}});
  return {{"mode", a.loop ? "loop" : "batched"}, {"rows", x.rows}, {"dims", x.cols}, {"fit_s", fit_s},
          {"problems", problems}};
}

void add_train_options(CLI::App& cmd, TrainArgs& a) {
  cmd.add_option("--split", a.split, "directory written by `split`")->required();
  cmd.add_option("--out", a.out, "where user_factors.npy and item_factors.npy go")->required();
  EmbedConfig& e = a.embed;
  cmd.add_option("--factors", e.factors)->check(CLI::Range(1, 1024))->capture_default_str();
  cmd.add_option("--iterations", e.iterations)->check(CLI::Range(1, 100000))->capture_default_str();
  cmd.add_option("--regularization", e.regularization)->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd.add_option("--alpha", e.alpha, "iALS confidence 1 + alpha * r")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd.add_option("--solver", a.solver)->check(CLI::IsMember({"cg", "cholesky"}))->capture_default_str();
  cmd.add_option("--cg-steps", e.cg_steps)->check(CLI::Range(1, 1000))->capture_default_str();
  cmd.add_option("--learning-rate", e.learning_rate, "BPR")->check(CLI::PositiveNumber)->capture_default_str();
  cmd.add_option("--threads", a.threads, "0 = all")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd.add_option("--seed", a.seed)->capture_default_str();
}

int run(int argc, char** argv) {
  CLI::App app{"cohort_compare: cohort's timed side of benchmarks/compare (one JSON object on stdout)"};
  app.require_subcommand(1);
  std::function<nlohmann::json()> job;

  SplitArgs split;
  auto* s = app.add_subcommand("split", "export the evaluation.md split of a log as .npy CSR parts");
  s->add_option("--input", split.input, "interaction log (MovieLens or CSV)")->required();
  s->add_option("--truth", split.truth, "known groups user_id,group: written as truth.npy");
  s->add_option("--out", split.out, "output directory")->required();
  s->add_option("--seed", split.seed)->capture_default_str();
  s->callback([&] { job = [&] { return run_split(split); }; });

  TrainArgs als;
  auto* a = app.add_subcommand("als", "train iALS on the split's training matrix");
  add_train_options(*a, als);
  a->callback([&] { job = [&] { return run_train(ModelKind::als, als); }; });

  TrainArgs bpr;
  auto* b = app.add_subcommand("bpr", "train BPR on the split's training matrix");
  add_train_options(*b, bpr);
  b->callback([&] { job = [&] { return run_train(ModelKind::bpr, bpr); }; });

  CosineArgs cosine;
  auto* c = app.add_subcommand("cosine", "item-item cosine top-k of the split's training matrix");
  c->add_option("--split", cosine.split)->required();
  c->add_option("--out", cosine.out)->required();
  c->add_option("--k", cosine.k)->check(CLI::Range(1, 100000))->capture_default_str();
  c->add_option("--threads", cosine.threads)->check(CLI::NonNegativeNumber)->capture_default_str();
  c->callback([&] { job = [&] { return run_cosine(cosine); }; });

  KMeansArgs kmeans;
  auto* k = app.add_subcommand("kmeans", "Euclidean k-means of an .npy matrix: a sweep batched, or --loop");
  k->add_option("--data", kmeans.data, "float32 .npy, rows x dims")->required();
  k->add_option("--k-min", kmeans.k_min)->check(CLI::Range(1, 100000))->capture_default_str();
  k->add_option("--k-max", kmeans.k_max)->check(CLI::Range(1, 100000))->capture_default_str();
  k->add_option("--restarts", kmeans.restarts)->check(CLI::Range(1, 1000))->capture_default_str();
  k->add_option("--k", kmeans.k, "a single k instead of the sweep")->check(CLI::Range(1, 100000));
  k->add_option("--iterations", kmeans.iterations)->check(CLI::Range(1, 100000))->capture_default_str();
  k->add_option("--tolerance", kmeans.tolerance)->check(CLI::NonNegativeNumber)->capture_default_str();
  k->add_flag("--loop", kmeans.loop, "one call per (k, restart) instead of one batched call");
  k->add_option("--threads", kmeans.threads)->check(CLI::NonNegativeNumber)->capture_default_str();
  k->add_option("--seed", kmeans.seed)->capture_default_str();
  k->add_option("--out", kmeans.out, "directory for centroids.npy (every problem's centroids, stacked)");
  k->callback([&] { job = [&] { return run_kmeans(kmeans); }; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    const nlohmann::json out = job();
    std::printf("%s\n", out.dump().c_str());
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "cohort_compare: %s\n", e.what());
    return e.status() == Status::bad_input || e.status() == Status::invalid_argument ? 2 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cohort_compare: %s\n", e.what());
    return 1;
  }
}

}  // namespace
}  // namespace cohort

int main(int argc, char** argv) {
  cohort::cpu::reexec_with_faster_blas(argv);
  return cohort::run(argc, argv);
}
