// Reading an interaction log: 2M lines of user,item,rating,timestamp with string ids ("u00042",
// hashed) and with numeric ids (the direct table), on the default OpenMP threads. The file is
// written once per process under the temporary directory and left in the page cache, so this
// times parsing and id interning, not the disk.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include <fmt/format.h>

#include "engine/data/read.hpp"

namespace cohort {
namespace {

constexpr int kLines = 2'000'000;
constexpr int kUsers = 40'000;
constexpr int kItems = 10'000;

// The log's path, written on first use: users in runs (as logs often are), items at random.
std::string log_file(bool string_ids) {
  const auto path = std::filesystem::temp_directory_path() /
                    fmt::format("cohort_read_bench_{}_{}.csv", string_ids ? "strings" : "numbers", kLines);
  if (std::filesystem::exists(path)) return path.string();
  std::mt19937_64 rng(5);
  std::string text = "user_id,item_id,rating,timestamp\n";
  for (int i = 0; i < kLines; ++i) {
    const int user = i / (kLines / kUsers);
    const auto item = static_cast<int>(rng() % kItems);
    if (string_ids) {
      text += fmt::format("u{:05d},i{:05d},{},{}\n", user, item, 1 + static_cast<int>(rng() % 5), 1600000000 + i);
    } else {
      text += fmt::format("{},{},{},{}\n", user, item, 1 + static_cast<int>(rng() % 5), 1600000000 + i);
    }
  }
  const std::string tmp = path.string() + ".part";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) return {};
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
  std::filesystem::rename(tmp, path);
  return path.string();
}

void BM_ReadInteractions(benchmark::State& state) {
  const std::string path = log_file(state.range(0) == 1);
  if (path.empty()) {
    state.SkipWithError("cannot write the log under the temporary directory");
    return;
  }
  for (auto _ : state) {
    Interactions d = read_interactions(path, ReadOptions{});
    benchmark::DoNotOptimize(d.user_items.indices.data());
  }
  state.SetItemsProcessed(state.iterations() * kLines);
}
// Arg: 1 = string ids, 0 = numeric ids.
BENCHMARK(BM_ReadInteractions)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace cohort
