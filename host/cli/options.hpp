// Options shared by the CLI's subcommands: input, run (backend, threads, seed), model, groups.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/cluster/model_selection.hpp"
#include "engine/comm/communicator.hpp"
#include "engine/context.hpp"
#include "engine/data/interactions.hpp"
#include "engine/data/items.hpp"
#include "engine/embed/embed.hpp"
#include "host/cli/progress.hpp"
#include "host/workers.hpp"
#include "kernels/backend.hpp"

namespace cohort::cli {

struct InputOptions {
  std::string input;
  std::string format = "auto";
  std::string delimiter = ",";
  bool header = false;
  std::vector<int> columns;  // user, item, value, timestamp; -1 = absent; empty: from the first line
  bool skip_bad_lines = false;
  std::string duplicates = "sum";
  int min_user_count = 1;
  int min_item_count = 1;
  std::string items;  // item metadata file
  std::string item_text_vectors;  // item_id,v1,...,vd: the items' text embedded by a language model
  std::string truth;  // known groups: user_id,group
};
// required: whether --input must be given.
void add_input_options(CLI::App& cmd, InputOptions& options, bool required);

struct LoadedData {
  Interactions data;
  ItemCatalog catalog;
  std::vector<int32_t> truth;  // empty when no --truth
  double seconds = 0.0;
};
LoadedData load_input(const InputOptions& options, const ProgressPrinter& printer);

struct RunOptions {
  std::string backend = "auto";
  int threads = 0;
  int workers = 1;  // SPMD workers in this process (one per GPU); see host/workers.hpp
  uint64_t seed = 42;
  bool quiet = false;
  bool tf32 = false;
};
void add_run_options(CLI::App& cmd, RunOptions& options);

// The workers (backends and communicators) and progress printer of one command. The
// backends are made on a thread of their own from construction on, so that a GPU's context
// creation (a fixed cost of a fraction of a second) overlaps the command's reading or
// generating of its data; backend(), context() and run() wait for them and rethrow their error.
class Runtime {
 public:
  explicit Runtime(const RunOptions& options);
  // The first worker's backend.
  Backend& backend();
  // Runs work on every worker of this process with its own context (SPMD); only the root
  // process's first worker reports progress. Rethrows the first worker's error.
  void run(const std::function<void(const Context& ctx, int worker)>& work);
  // Whether this process prints the results and writes the outputs (not a rank > 0 of mpiexec).
  bool root() const { return root_; }
  // Seconds the backends took to start (on their own thread); valid once backend() has returned.
  double backend_start_seconds() const { return backend_start_seconds_; }
  ProgressPrinter& printer() { return printer_; }

 private:
  struct StartedWorkers {
    Workers workers;
    double seconds = 0.0;
  };
  Workers& workers();
  Context make_context(int worker);
  RunOptions options_;
  bool root_;
  std::future<StartedWorkers> pending_;
  std::optional<Workers> workers_;
  double backend_start_seconds_ = 0.0;
  ProgressPrinter printer_;
};

struct ModelOptions {
  std::string model = "als";
  int factors = 64;
  int iterations = 15;
  float regularization = 0.05f;
  float alpha = 2.0f;
  bool log_confidence = false;
  std::string solver = "cg";
  int cg_steps = 3;
  float learning_rate = 0.05f;
  bool loss = false;
};
void add_model_options(CLI::App& cmd, ModelOptions& options);
EmbedConfig to_embed_config(const ModelOptions& options);

struct GroupOptions {
  std::string k = "auto";
  int k_min = 2;
  int k_max = 32;
  int restarts = 3;
  int silhouette_sample = 10000;
  int max_iterations = 50;
};
void add_group_options(CLI::App& cmd, GroupOptions& options);
SweepConfig to_sweep_config(const GroupOptions& options);

}  // namespace cohort::cli
