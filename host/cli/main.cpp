// cohort: user-group discovery for recommender systems. Exit codes: 0 ok, 2 bad usage or bad
// input, 1 internal failure.
#include <cstdio>
#include <exception>
#include <new>

#include <fmt/format.h>

#include "host/cli/commands.hpp"
#include "host/comm/mpi_communicator.hpp"
#include "kernels/cpu/blas_kernels.hpp"
#include "kernels/error.hpp"

int main(int argc, char** argv) {
  cohort::cpu::reexec_with_faster_blas(argv);
  CLI::App app{"cohort: discover groups of users in interaction data, recommend with them, and measure how much they help"};
  app.set_version_flag("--version", COHORT_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  cohort::cli::add_pipeline_command(app);
  cohort::cli::add_generate_command(app);
  cohort::cli::add_prepare_command(app);
  cohort::cli::add_train_command(app);
  cohort::cli::add_groups_command(app);
  cohort::cli::add_recommend_command(app);
  cohort::cli::add_evaluate_command(app);
  cohort::cli::add_info_command(app);
  int code = 0;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    code = app.exit(e) == 0 ? 0 : 2;
  } catch (const cohort::Error& e) {
    std::fputs(fmt::format("cohort: error: {}\n", e.what()).c_str(), stderr);
    switch (e.status()) {
      case cohort::Status::invalid_argument:
      case cohort::Status::bad_input:
      case cohort::Status::io_error:
        code = 2;
        break;
      default:
        code = 1;
    }
  } catch (const std::bad_alloc&) {
    std::fputs("cohort: error: out of memory\n", stderr);
    code = 1;
  } catch (const std::exception& e) {
    std::fputs(fmt::format("cohort: internal error: {}\n", e.what()).c_str(), stderr);
    code = 1;
  }
  if (code != 0) cohort::abort_other_ranks(code);
  return code;
}
