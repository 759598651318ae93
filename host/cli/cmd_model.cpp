#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <unordered_map>

#include <fmt/format.h>

#include "engine/cluster/model_selection.hpp"
#include "engine/data/rows.hpp"
#include "engine/embed/text_profiles.hpp"
#include "engine/groups/groups.hpp"
#include "engine/io/files.hpp"
#include "engine/io/model_file.hpp"
#include "engine/pipeline/outputs.hpp"
#include "engine/recommend/recommend.hpp"
#include "host/cli/commands.hpp"
#include "host/cli/options.hpp"
#include "kernels/error.hpp"

namespace cohort::cli {
namespace {

// The model must index the same users and items as the data it is used with.
void check_model_matches(const SavedModel& model, const Interactions& data, const std::string& model_path) {
  COHORT_CHECK_STATUS(model.item_ids == data.item_ids && model.user_ids == data.user_ids, Status::bad_input,
                      "{} was trained on other data ({} users x {} items) than --input ({} x {}); "
                      "pass the same input and filters used for `cohort train`",
                      model_path, model.user_ids.size(), model.item_ids.size(), data.users(), data.items());
}

std::vector<std::string> read_user_list(const std::string& users, const std::string& users_file) {
  std::vector<std::string> out;
  if (!users.empty()) {
    size_t begin = 0;
    while (begin <= users.size()) {
      size_t end = users.find(',', begin);
      if (end == std::string::npos) end = users.size();
      if (end > begin) out.push_back(users.substr(begin, end - begin));
      begin = end + 1;
    }
  }
  if (!users_file.empty()) {
    std::ifstream in(users_file);
    COHORT_CHECK_STATUS(in.good(), Status::io_error, "cannot open '{}'", users_file);
    std::string line;
    while (std::getline(in, line)) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (!line.empty()) out.push_back(line);
    }
  }
  return out;
}

}  // namespace

void add_train_command(CLI::App& app) {
  struct Options {
    InputOptions input;
    RunOptions run;
    ModelOptions model;
    std::string out = "cohort-model";
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("train", "train embeddings on every interaction; writes model.cohort and the embeddings");
  add_input_options(*cmd, o->input, true);
  add_run_options(*cmd, o->run);
  add_model_options(*cmd, o->model);
  cmd->add_option("--out", o->out, "output directory")->capture_default_str();
  cmd->callback([o] {
    Runtime runtime(o->run);
    LoadedData loaded = load_input(o->input, runtime.printer());
    const EmbedConfig config = to_embed_config(o->model);
    check_values_for_model(loaded.data, config);
    Embeddings embeddings;
    runtime.run([&](const Context& ctx, int worker) {
      Embeddings mine = train_embeddings(ctx, loaded.data.user_items, config);
      if (worker == 0) embeddings = std::move(mine);
    });
    if (!runtime.root()) return;
    Groups no_groups;
    no_groups.assignment.assign(static_cast<size_t>(loaded.data.users()), -1);
    no_groups.confidence.assign(static_cast<size_t>(loaded.data.users()), 0.0f);
    RecommendModel rec = build_recommend_model(loaded.data.user_items, no_groups.assignment, 0);
    make_directories(o->out);
    rec.item_text = loaded.catalog.text_vectors;  // kept in the model for `recommend --kind text`
    save_model(o->out + "/model.cohort", make_saved_model(config, embeddings, no_groups, rec, loaded.data));
    write_npy(o->out + "/user_embeddings.npy", embeddings.users);
    write_npy(o->out + "/item_embeddings.npy", embeddings.items);
    std::printf("wrote %s/{model.cohort, user_embeddings.npy, item_embeddings.npy}\n", o->out.c_str());
  });
}

void add_groups_command(CLI::App& app) {
  struct Options {
    InputOptions input;
    RunOptions run;
    GroupOptions groups;
    std::string model_path;
    std::string out = "cohort-groups";
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("groups", "discover groups of a trained model's users; writes groups.csv, groups.json "
                                           "and the model with its groups");
  cmd->add_option("--model-file", o->model_path, "model.cohort from `cohort train`")->required();
  add_input_options(*cmd, o->input, true);
  add_run_options(*cmd, o->run);
  add_group_options(*cmd, o->groups);
  cmd->add_option("--out", o->out, "output directory")->capture_default_str();
  cmd->callback([o] {
    Runtime runtime(o->run);
    SavedModel model = load_model(o->model_path);
    LoadedData loaded = load_input(o->input, runtime.printer());
    check_model_matches(model, loaded.data, o->model_path);
    std::vector<int32_t> users;
    for (int64_t u = 0; u < loaded.data.users(); ++u)
      if (loaded.data.user_items.row_length(u) > 0) users.push_back(static_cast<int32_t>(u));
    Matrix points = normalized_rows(select_rows(model.embeddings.users, users));
    SweepResult sweep;
    runtime.run([&](const Context& ctx, int worker) {
      SweepResult mine = sweep_k(ctx, points, to_sweep_config(o->groups));
      if (worker == 0) sweep = std::move(mine);
    });
    if (!runtime.root()) return;
    Groups groups = build_groups(sweep.best, users, loaded.data.users(), loaded.data.user_items, model.embeddings.items,
                                 loaded.catalog, ProfileOptions{});
    RecommendModel rec = build_recommend_model(loaded.data.user_items, groups.assignment, groups.k);
    make_directories(o->out);
    write_groups_csv(o->out + "/groups.csv", groups, loaded.data.user_ids);
    const nlohmann::json profiles = groups_to_json(groups, loaded.data, loaded.catalog);
    write_file_atomically(o->out + "/groups.json", [&](std::ostream& out) { out << profiles.dump(2) << '\n'; });
    rec.item_text = loaded.catalog.has_text() ? loaded.catalog.text_vectors : model.item_text;
    save_model(o->out + "/model.cohort", make_saved_model(model.config, model.embeddings, groups, rec, loaded.data));
    std::printf("k = %d (silhouette %.3f); wrote %s/{groups.csv, groups.json, model.cohort}\n", groups.k,
                sweep.silhouette, o->out.c_str());
    for (const GroupProfile& p : groups.profiles)
      std::printf("  group %d: %lld users, %s\n", p.group, static_cast<long long>(p.size), p.label.c_str());
  });
}

void add_recommend_command(CLI::App& app) {
  struct Options {
    InputOptions input;
    RunOptions run;
    std::string model_path;
    std::string users;
    std::string users_file;
    bool all_users = false;
    std::string kind = "auto";
    int n = 10;
    int neighbours = 100;
    std::string out;
    double text_sharpness = 4.0;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("recommend", "top-N items for given users as CSV: user_id,rank,item_id,score[,title]");
  cmd->add_option("--model-file", o->model_path, "model.cohort from `cohort train`, `groups` or `pipeline`")->required();
  add_input_options(*cmd, o->input, true);
  add_run_options(*cmd, o->run);
  cmd->add_option("--users", o->users, "comma-separated user ids");
  cmd->add_option("--users-file", o->users_file, "file with one user id per line");
  cmd->add_flag("--all-users", o->all_users, "every user of the model");
  cmd->add_option("--kind", o->kind,
                  "auto (blend with groups, else the embedding) | popularity | als | group | blend | item_knn | text "
                  "(needs --item-text-vectors)")
      ->check(CLI::IsMember({"auto", "popularity", "als", "bpr", "mf", "embedding", "group", "blend", "item_knn", "text"}))
      ->capture_default_str();
  cmd->add_option("--text-sharpness", o->text_sharpness, "text recommender: sharpness * cosine + log(popularity)")
      ->check(CLI::Range(0.0, 1000.0))
      ->capture_default_str();
  cmd->add_option("-n,--n", o->n, "items per user")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--neighbours", o->neighbours, "item-kNN neighbours per item")->check(CLI::Range(1, 10000))->capture_default_str();
  cmd->add_option("--out", o->out, "CSV file to write (default: standard output)");
  cmd->callback([o] {
    Runtime runtime(o->run);
    SavedModel model = load_model(o->model_path);
    LoadedData loaded = load_input(o->input, runtime.printer());
    check_model_matches(model, loaded.data, o->model_path);
    const Interactions& data = loaded.data;

    std::vector<int32_t> rows;
    if (o->all_users) {
      for (int64_t u = 0; u < data.users(); ++u) rows.push_back(static_cast<int32_t>(u));
    } else {
      std::unordered_map<std::string, int32_t> index;
      for (size_t u = 0; u < data.user_ids.size(); ++u) index.emplace(data.user_ids[u], static_cast<int32_t>(u));
      for (const std::string& id : read_user_list(o->users, o->users_file)) {
        auto it = index.find(id);
        COHORT_CHECK_STATUS(it != index.end(), Status::bad_input, "user '{}' is not in {}", id, o->model_path);
        rows.push_back(it->second);
      }
    }
    COHORT_CHECK(!rows.empty(), "no users given: use --users, --users-file or --all-users");

    std::string kind_name = o->kind;
    if (kind_name == "auto") kind_name = model.groups_k > 0 ? "blend" : "embedding";
    const RecommenderKind kind = parse_recommender_kind(kind_name);
    COHORT_CHECK(model.groups_k > 0 || (kind != RecommenderKind::group && kind != RecommenderKind::blend),
                 "--kind {} needs groups: run `cohort groups` (or `cohort pipeline`) to get a model with groups",
                 kind_name);
    // The items' text: from --item-text-vectors, else the one the model was saved with.
    const Matrix& item_text = loaded.catalog.has_text() ? loaded.catalog.text_vectors : model.item_text;
    COHORT_CHECK_STATUS(kind != RecommenderKind::text || item_text.rows > 0, Status::invalid_argument,
                        "--kind text needs the items' text vectors: --item-text-vectors FILE (or a model saved from "
                        "a run that had them)");

    RecommendModel rec;
    rec.items = data.items();
    rec.popularity = model.popularity;
    rec.group_scores = model.group_scores;
    rec.item_factors = model.embeddings.items;
    Queries q;
    q.seen = select_rows(data.user_items, rows);
    if (kind == RecommenderKind::text) {
      rec.item_text = item_text;
      rec.text_sharpness = o->text_sharpness;
      q.text_profiles = text_profiles(q.seen, rec.item_text);
    }
    q.factors = select_rows(model.embeddings.users, rows);
    for (int32_t u : rows) q.group.push_back(model.assignment[static_cast<size_t>(u)]);
    // Sharded over --workers: item-kNN's items, then the users.
    TopK top;
    runtime.run([&](const Context& ctx, int worker) {
      RecommendModel mine = rec;
      if (kind == RecommenderKind::item_knn) fit_item_knn(ctx, data.user_items, o->neighbours, mine);
      TopK lists = recommend(ctx, kind, mine, q, o->n);
      if (worker == 0) top = std::move(lists);
    });
    if (!runtime.root()) return;

    auto write = [&](std::ostream& out) {
      out << "user_id,rank,item_id,score" << (loaded.catalog.empty() ? "" : ",title") << '\n';
      for (size_t r = 0; r < rows.size(); ++r) {
        for (int j = 0; j < top.k; ++j) {
          const int32_t item = top.row(static_cast<int64_t>(r))[j];
          if (item < 0) break;
          out << data.user_ids[static_cast<size_t>(rows[r])] << ',' << (j + 1) << ','
              << data.item_ids[static_cast<size_t>(item)] << ','
              << fmt::format("{:.6g}", top.scores[r * static_cast<size_t>(top.k) + static_cast<size_t>(j)]);
          if (!loaded.catalog.empty()) {
            std::string title = loaded.catalog.titles[static_cast<size_t>(item)];
            std::replace(title.begin(), title.end(), '"', '\'');
            out << ",\"" << title << '"';
          }
          out << '\n';
        }
      }
    };
    if (o->out.empty()) {
      std::ostringstream buffer;
      write(buffer);
      std::fputs(buffer.str().c_str(), stdout);
    } else {
      write_file_atomically(o->out, write);
    }
  });
}

}  // namespace cohort::cli
