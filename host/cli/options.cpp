#include "host/cli/options.hpp"

#include <chrono>
#include <charconv>

#include <omp.h>

#include "engine/data/clean.hpp"
#include "engine/data/read.hpp"
#include "kernels/error.hpp"
#include "kernels/registry.hpp"

namespace cohort::cli {

void add_input_options(CLI::App& cmd, InputOptions& o, bool required) {
  auto* input = cmd.add_option("--input", o.input, "interaction log: MovieLens u.data / ratings.dat / ratings.csv, "
                                                   "a delimited file, or a cache from `cohort prepare`");
  if (required) input->required();
  cmd.add_option("--format", o.format, "auto | movielens | csv | cache")
      ->check(CLI::IsMember({"auto", "movielens", "csv", "cache"}))
      ->capture_default_str();
  cmd.add_option("--delimiter", o.delimiter, "field delimiter of a csv input (one character, or 'tab')")
      ->capture_default_str();
  cmd.add_flag("--header", o.header, "the csv input starts with a header line");
  cmd.add_option("--columns", o.columns,
                 "0-based columns of user, item, value, timestamp (-1 = absent); default: user,item[,value"
                 "[,timestamp]] by the first line's field count")
      ->expected(4)
      ->delimiter(',');
  cmd.add_flag("--skip-bad-lines", o.skip_bad_lines, "count and skip malformed lines instead of failing");
  cmd.add_option("--duplicates", o.duplicates, "merge repeated (user, item) pairs: sum | max | last")
      ->check(CLI::IsMember({"sum", "max", "last"}))
      ->capture_default_str();
  cmd.add_option("--min-user-count", o.min_user_count, "drop users with fewer interactions (iterated with items)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("--min-item-count", o.min_item_count, "drop items with fewer interactions")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("--items", o.items, "item metadata: MovieLens u.item / movies.dat / movies.csv, or item_id,title,tags");
  cmd.add_option("--item-text-vectors", o.item_text_vectors,
                 "item_id,v1,...,vd lines: each item's text (title, description) embedded by a language model; "
                 "adds the text recommender (users' interests read from what they chose)");
  cmd.add_option("--truth", o.truth, "known groups, user_id,group: reported as ARI and NMI");
}

LoadedData load_input(const InputOptions& o, const ProgressPrinter& printer) {
  const auto start = std::chrono::steady_clock::now();
  ReadOptions read;
  read.format = parse_input_format(o.format);
  COHORT_CHECK(o.delimiter.size() == 1 || o.delimiter == "tab" || o.delimiter == "\\t",
               "--delimiter must be one character or 'tab', got '{}'", o.delimiter);
  read.delimiter = o.delimiter.size() == 1 ? o.delimiter[0] : '\t';
  read.header = o.header;
  if (o.columns.empty()) {
    read.infer_columns = true;
  } else {
    COHORT_CHECK(o.columns.size() == 4, "--columns takes 4 numbers: user,item,value,timestamp");
    read.user_column = o.columns[0];
    read.item_column = o.columns[1];
    read.value_column = o.columns[2];
    read.timestamp_column = o.columns[3];
  }
  read.skip_bad_lines = o.skip_bad_lines;
  read.duplicates = parse_duplicate_rule(o.duplicates);

  printer.note(fmt::format("reading {}", o.input));
  LoadedData loaded;
  loaded.data = read_interactions(o.input, read);
  if (o.min_user_count > 1 || o.min_item_count > 1)
    loaded.data = filter_min_counts(loaded.data, o.min_user_count, o.min_item_count);
  if (!o.items.empty()) loaded.catalog = read_item_catalog(o.items, loaded.data.item_ids);
  if (!o.item_text_vectors.empty()) read_item_text_vectors(o.item_text_vectors, loaded.data.item_ids, loaded.catalog);
  if (!o.truth.empty()) loaded.truth = read_truth(o.truth, loaded.data.user_ids);
  loaded.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  printer.note(fmt::format("read {} users x {} items, {} interactions ({} bad lines skipped, {} duplicates merged) in {:.1f}s",
                           loaded.data.users(), loaded.data.items(), loaded.data.nnz(), loaded.data.skipped_lines,
                           loaded.data.duplicates_merged, loaded.seconds));
  return loaded;
}

void add_run_options(CLI::App& cmd, RunOptions& o) {
  cmd.add_option("--backend", o.backend, "auto | cpu | cuda | cuda:N (auto takes a GPU when one is visible)")
      ->capture_default_str();
  cmd.add_option("--threads", o.threads, "CPU threads (0 = all)")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd.add_option("--workers", o.workers,
                 "workers sharding the run, one per GPU (--backend cuda or auto), or CPU workers sharing the "
                 "threads; across machines run one process per worker with mpiexec instead")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd.add_option("--seed", o.seed, "seed of every random choice")->capture_default_str();
  cmd.add_flag("--quiet", o.quiet, "no progress on stderr");
  cmd.add_flag("--tf32", o.tf32,
               "CUDA: k-means distances on TF32 tensor cores; pairs TF32 cannot decide are rechecked in FP32, so "
               "the groups stay FP32's");
}

Runtime::Runtime(const RunOptions& options)
    : options_(options),
      root_(is_root_process()),
      pending_(std::async(std::launch::async,
                          [kind = options.backend, threads = options.threads, tf32 = options.tf32,
                           count = options.workers] {
                            const auto start = std::chrono::steady_clock::now();
                            BackendOptions backend_options;
                            backend_options.threads = threads;
                            backend_options.tf32 = tf32;
                            StartedWorkers started{make_workers(kind, count, backend_options)};
                            started.seconds =
                                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                            return started;
                          })),
      printer_(options.quiet || !root_) {}

Workers& Runtime::workers() {
  if (!workers_) {
    StartedWorkers started = pending_.get();
    workers_ = std::move(started.workers);
    backend_start_seconds_ = started.seconds;
    const Workers& w = *workers_;
    const int ranks = w.comms[0]->size();
    if (ranks == 1) {
      printer_.note(fmt::format("backend: {}", w.backends[0]->description()));
    } else {
      printer_.note(fmt::format("{} workers{}", ranks, w.backends.size() == 1 ? " (MPI processes)" : ""));
      for (size_t i = 0; i < w.backends.size(); ++i)
        printer_.note(fmt::format("worker {}: {}", w.comms[i]->rank(), w.backends[i]->description()));
    }
    if (options_.tf32 && !w.backends[0]->on_device()) printer_.note("--tf32 applies to GPUs only; the CPU computes in FP32");
  }
  return *workers_;
}

Backend& Runtime::backend() { return *workers().backends[0]; }

Context Runtime::make_context(int worker) {
  Workers& w = workers();
  Context ctx{*w.backends[static_cast<size_t>(worker)], *w.comms[static_cast<size_t>(worker)], options_.seed,
              w.threads_each, {}};
  if (worker == 0) ctx.progress = [this](const ProgressEvent& e) { printer_(e); };
  return ctx;
}

void Runtime::run(const std::function<void(const Context& ctx, int worker)>& work) {
  workers().run([&](int worker) {
    const Context ctx = make_context(worker);
    // The engine's host-side loops (OpenMP) take the worker's threads, as its CPU backend does:
    // --threads, or a thread worker's share of the cores.
    if (ctx.threads > 0) omp_set_num_threads(ctx.threads);
    work(ctx, worker);
  });
}

void add_model_options(CLI::App& cmd, ModelOptions& o) {
  cmd.add_option("--model", o.model, "als (implicit ALS) | bpr | mf (explicit ratings)")
      ->check(CLI::IsMember({"als", "bpr", "mf"}))
      ->capture_default_str();
  cmd.add_option("--factors", o.factors, "embedding dimension")->check(CLI::Range(1, 1024))->capture_default_str();
  cmd.add_option("--iterations", o.iterations, "ALS/MF sweeps or BPR epochs")->check(CLI::Range(0, 100000))->capture_default_str();
  cmd.add_option("--regularization", o.regularization, "L2 regularisation (mf: per rating, scaled by each row's count; try 0.1)")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd.add_option("--alpha", o.alpha, "iALS confidence 1 + alpha * value")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd.add_flag("--log-confidence", o.log_confidence, "iALS confidence 1 + alpha * log(1 + value)");
  cmd.add_option("--solver", o.solver, "cg | cholesky")->check(CLI::IsMember({"cg", "cholesky"}))->capture_default_str();
  cmd.add_option("--cg-steps", o.cg_steps, "conjugate-gradient steps per row")->check(CLI::Range(1, 1000))->capture_default_str();
  cmd.add_option("--learning-rate", o.learning_rate, "BPR learning rate")->check(CLI::PositiveNumber)->capture_default_str();
  cmd.add_flag("--loss", o.loss, "compute the training loss every iteration (ALS/MF)");
}

EmbedConfig to_embed_config(const ModelOptions& o) {
  EmbedConfig c;
  c.model = parse_model_kind(o.model);
  c.factors = o.factors;
  c.iterations = o.iterations;
  c.regularization = o.regularization;
  c.alpha = o.alpha;
  c.log_confidence = o.log_confidence;
  c.solver = o.solver == "cholesky" ? SolverKind::cholesky : SolverKind::conjugate_gradient;
  c.cg_steps = o.cg_steps;
  c.learning_rate = o.learning_rate;
  c.compute_loss = o.loss;
  return c;
}

void add_group_options(CLI::App& cmd, GroupOptions& o) {
  cmd.add_option("--k", o.k, "number of groups: auto (chosen by silhouette over --k-min..--k-max) or N")
      ->capture_default_str();
  cmd.add_option("--k-min", o.k_min, "smallest k of the sweep")->check(CLI::Range(2, 100000))->capture_default_str();
  cmd.add_option("--k-max", o.k_max, "largest k of the sweep")->check(CLI::Range(2, 100000))->capture_default_str();
  cmd.add_option("--restarts", o.restarts, "k-means restarts per k")->check(CLI::Range(1, 1000))->capture_default_str();
  cmd.add_option("--silhouette-sample", o.silhouette_sample, "users sampled to score silhouette")
      ->check(CLI::Range(2, 1000000))
      ->capture_default_str();
  cmd.add_option("--kmeans-iterations", o.max_iterations, "k-means iterations at most")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
}

SweepConfig to_sweep_config(const GroupOptions& o) {
  SweepConfig c;
  if (o.k != "auto") {
    int k = 0;
    auto [end, ec] = std::from_chars(o.k.data(), o.k.data() + o.k.size(), k);
    COHORT_CHECK(ec == std::errc() && end == o.k.data() + o.k.size() && k >= 1,
                 "--k must be 'auto' or a number >= 1, got '{}'", o.k);
    c.fixed_k = k;
  }
  COHORT_CHECK(o.k_min <= o.k_max, "--k-min ({}) is larger than --k-max ({})", o.k_min, o.k_max);
  c.k_min = o.k_min;
  c.k_max = o.k_max;
  c.restarts = o.restarts;
  c.silhouette_sample = o.silhouette_sample;
  c.max_iterations = o.max_iterations;
  c.metric = KMeansMetric::cosine;
  return c;
}

}  // namespace cohort::cli
