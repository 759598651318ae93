#include <omp.h>

#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "engine/data/cache.hpp"
#include "engine/data/generate.hpp"
#include "host/cli/commands.hpp"
#include "host/cli/options.hpp"
#include "host/comm/mpi_communicator.hpp"
#include "kernels/cpu/blas_kernels.hpp"
#include "kernels/registry.hpp"

namespace cohort::cli {

void add_generate_command(CLI::App& app) {
  struct Options {
    std::string out = "cohort-data";
    GeneratorConfig config;
    bool quiet = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("generate", "write the built-in data set: interactions.csv, items.csv, item_text_vectors.csv, truth.csv");
  cmd->add_option("--out", o->out, "output directory")->capture_default_str();
  cmd->add_option("--users", o->config.users, "users")->check(CLI::Range(int64_t{2}, int64_t{2000000000}))->capture_default_str();
  cmd->add_option("--items", o->config.items, "items")->check(CLI::Range(int64_t{2}, int64_t{2000000000}))->capture_default_str();
  cmd->add_option("--groups", o->config.groups, "planted user groups")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--item-clusters", o->config.item_clusters, "item clusters (tastes)")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--interactions-per-user", o->config.interactions_per_user, "mean interactions per user")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--noise", o->config.noise, "share of interactions drawn from global popularity")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--seed", o->config.seed, "seed")->capture_default_str();
  cmd->add_flag("--quiet", o->quiet, "print nothing");
  cmd->callback([o] {
    GeneratedData data = generate_dataset(o->config);
    write_generated(o->out, data);
    if (!o->quiet)
      std::printf("wrote %s/interactions.csv (%lld users x %lld items, %lld interactions, %d groups), items.csv, item_text_vectors.csv, truth.csv\n",
                  o->out.c_str(), static_cast<long long>(data.interactions.users()),
                  static_cast<long long>(data.interactions.items()), static_cast<long long>(data.interactions.nnz()),
                  o->config.groups);
  });
}

void add_prepare_command(CLI::App& app) {
  struct Options {
    InputOptions input;
    std::string out;
    bool quiet = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("prepare", "parse, validate and clean an interaction log once, into a binary cache");
  add_input_options(*cmd, o->input, true);
  cmd->add_option("--out", o->out, "cache file to write (read back with --input FILE or --format cache)")->required();
  cmd->add_flag("--quiet", o->quiet, "no progress on stderr");
  cmd->callback([o] {
    ProgressPrinter printer(o->quiet);
    LoadedData loaded = load_input(o->input, printer);
    write_cache(o->out, loaded.data);
    printer.note(fmt::format("wrote {}", o->out));
  });
}

void add_info_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "version, backends compiled and usable, threads, GPUs");
  cmd->callback([] {
    std::printf("cohort %s\n", COHORT_VERSION);
    std::printf("backends compiled: cpu%s\n", cuda_compiled() ? ", cuda" : "");
    const int gpus = cuda_device_count();
    std::printf("backends usable:   cpu%s\n", gpus > 0 ? ", cuda" : "");
    std::printf("cpu threads:       %d\n", omp_get_max_threads());
    std::printf("cpu BLAS kernels:  OpenBLAS %s\n", cpu::blas_kernels().c_str());
    std::printf("workers:           --workers N (threads of this process)%s\n",
                mpi_compiled() ? "; MPI (mpiexec -n N cohort ...)" : "; no MPI in this build (libmpich-dev)");
    if (cuda_compiled() && gpus == 0) std::printf("gpus:              none visible (no driver or no device)\n");
    for (const std::string& line : cuda_device_descriptions()) std::printf("gpu:               %s\n", line.c_str());
  });
}

}  // namespace cohort::cli
