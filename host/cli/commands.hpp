// The cohort CLI's subcommands; each add_* registers one on the app with its callback.
#pragma once

#include <CLI/CLI.hpp>

namespace cohort::cli {

void add_generate_command(CLI::App& app);   // cmd_data.cpp
void add_prepare_command(CLI::App& app);
void add_info_command(CLI::App& app);
void add_train_command(CLI::App& app);      // cmd_model.cpp
void add_groups_command(CLI::App& app);
void add_recommend_command(CLI::App& app);
void add_pipeline_command(CLI::App& app);   // cmd_pipeline.cpp
void add_evaluate_command(CLI::App& app);

}  // namespace cohort::cli
