#include "engine/data/cache.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "data/temp_dir.hpp"
#include "engine/io/binary_stream.hpp"

namespace cohort {
namespace {

using ::testing::HasSubstr;
using testing::error_of;
using testing::TempDir;

Interactions sample(bool with_timestamps) {
  Interactions d;
  d.user_items = Csr::from_triplets(3, 4, {0, 0, 1, 2, 2}, {1, 3, 0, 2, 3}, {1.5f, 2.0f, -3.0f, 4.0f, 5.0f});
  if (with_timestamps) d.timestamps = {10, 20, -30, 40, 9000000000};
  d.user_ids = {"alice", "Bj\xC3\xB6rk", "a, \"quoted\" id"};
  d.item_ids = {"i0", "", "i2", "item three"};
  d.skipped_lines = 7;
  d.duplicates_merged = 2;
  return d;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void expect_same(const Interactions& a, const Interactions& b) {
  EXPECT_EQ(a.user_items.rows, b.user_items.rows);
  EXPECT_EQ(a.user_items.cols, b.user_items.cols);
  EXPECT_EQ(a.user_items.indptr, b.user_items.indptr);
  EXPECT_EQ(a.user_items.indices, b.user_items.indices);
  EXPECT_EQ(a.user_items.values, b.user_items.values);
  EXPECT_EQ(a.timestamps, b.timestamps);
  EXPECT_EQ(a.user_ids, b.user_ids);
  EXPECT_EQ(a.item_ids, b.item_ids);
  EXPECT_EQ(a.skipped_lines, b.skipped_lines);
  EXPECT_EQ(a.duplicates_merged, b.duplicates_merged);
}

TEST(Cache, RoundTripWithAndWithoutTimestamps) {
  TempDir dir;
  for (bool with_timestamps : {true, false}) {
    const Interactions d = sample(with_timestamps);
    const std::string path = dir.path(with_timestamps ? "a.cohort" : "b.cohort");
    write_cache(path, d);
    EXPECT_TRUE(is_cache_file(path));
    expect_same(read_cache(path), d);
  }
  // Only the two caches remain: no temporary left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.root()), std::filesystem::directory_iterator()), 2);
}

TEST(Cache, OverwritesAnExistingCache) {
  TempDir dir;
  const std::string path = dir.path("c.cohort");
  write_cache(path, sample(true));
  Interactions second = sample(false);
  second.user_ids[0] = "zed";
  write_cache(path, second);
  expect_same(read_cache(path), second);
}

TEST(Cache, FlippedByteFailsTheChecksum) {
  TempDir dir;
  const std::string path = dir.path("c.cohort");
  write_cache(path, sample(true));
  std::string bytes = read_bytes(path);
  // A byte inside the values array: past the 20-byte frame header, the four i64 sizes and
  // counters, then the 4 row pointers, 5 column indices and the values' count.
  bytes[20 + 32 + (8 + 32) + (8 + 20) + 8 + 2] ^= 0x10;
  dir.write("c.cohort", bytes);
  std::string message = error_of([&] { read_cache(path); }, Status::bad_input);
  EXPECT_THAT(message, HasSubstr("c.cohort"));
  EXPECT_THAT(message, HasSubstr("checksum mismatch"));
}

TEST(Cache, TruncatedOrExtendedFileIsRejected) {
  TempDir dir;
  const std::string path = dir.path("c.cohort");
  write_cache(path, sample(true));
  const std::string bytes = read_bytes(path);
  dir.write("cut.cohort", bytes.substr(0, bytes.size() - 5));
  EXPECT_THAT(error_of([&] { read_cache(dir.path("cut.cohort")); }, Status::bad_input), HasSubstr("truncated"));
  dir.write("tiny.cohort", bytes.substr(0, 20));
  EXPECT_THAT(error_of([&] { read_cache(dir.path("tiny.cohort")); }, Status::bad_input),
              HasSubstr("shorter than a cache header"));
  dir.write("long.cohort", bytes + "xx");
  EXPECT_THAT(error_of([&] { read_cache(dir.path("long.cohort")); }, Status::bad_input), HasSubstr("trailing bytes"));
}

TEST(Cache, ForeignFileIsRejected) {
  TempDir dir;
  const std::string path = dir.write("ratings.csv", std::string(200, 'x'));
  EXPECT_FALSE(is_cache_file(path));
  EXPECT_THAT(error_of([&] { read_cache(path); }, Status::bad_input), HasSubstr("not a cohort cache"));
  EXPECT_FALSE(is_cache_file(dir.path("absent")));
  EXPECT_THAT(error_of([&] { read_cache(dir.path("absent")); }, Status::io_error), HasSubstr("cannot open"));
}

TEST(Cache, OtherVersionIsRejected) {
  TempDir dir;
  const std::string path = dir.path("c.cohort");
  write_cache(path, sample(true));
  std::string bytes = read_bytes(path);
  bytes[8] = 9;  // the version follows the magic
  dir.write("c.cohort", bytes);
  EXPECT_THAT(error_of([&] { read_cache(path); }, Status::bad_input), HasSubstr("version 9"));
}

// A well-framed payload (valid checksum) that a buggy writer could produce.
std::string framed_payload(const TempDir& dir, int32_t last_column, int64_t extra_user_ids) {
  const Interactions d = sample(false);
  binary::Writer w;
  w.pod<int64_t>(3);
  w.pod<int64_t>(4);
  w.pod<int64_t>(0);
  w.pod<int64_t>(0);
  w.vector(d.user_items.indptr);
  std::vector<int32_t> indices = d.user_items.indices;
  indices.back() = last_column;
  w.vector(indices);
  w.vector(d.user_items.values);
  w.vector(std::vector<int64_t>{});
  std::vector<std::string> users = d.user_ids;
  for (int64_t i = 0; i < extra_user_ids; ++i) users.push_back("extra");
  w.strings(users);
  w.strings(d.item_ids);
  const std::string path = dir.path("framed.cohort");
  binary::write_framed_file(path, kCacheMagic, kCacheVersion, w.bytes());
  return path;
}

TEST(Cache, InconsistentPayloadWithValidChecksumIsRejected) {
  TempDir dir;
  EXPECT_EQ(read_cache(framed_payload(dir, 3, 0)).user_items.nnz(), 5);
  EXPECT_THAT(error_of([&] { read_cache(framed_payload(dir, 4, 0)); }, Status::bad_input),
              HasSubstr("column index 4 in row 2 outside [0, 4)"));
  EXPECT_THAT(error_of([&] { read_cache(framed_payload(dir, 3, 1)); }, Status::bad_input),
              HasSubstr("4 user ids for 3 rows"));
}

TEST(Cache, DirectoryIsAnIoError) {
  TempDir dir;
  EXPECT_FALSE(is_cache_file(dir.root().string()));
  EXPECT_THAT(error_of([&] { read_cache(dir.root().string()); }, Status::io_error), HasSubstr("cannot open"));
}

TEST(Cache, InconsistentInteractionsAreNotWritten) {
  TempDir dir;
  Interactions d = sample(true);
  d.user_ids.pop_back();
  error_of([&] { write_cache(dir.path("c.cohort"), d); }, Status::invalid_argument);
  EXPECT_FALSE(std::filesystem::exists(dir.path("c.cohort")));
}

TEST(Cache, UnwritableDirectoryIsAnIoError) {
  TempDir dir;
  EXPECT_THAT(error_of([&] { write_cache(dir.path("no/such/dir/c.cohort"), sample(true)); }, Status::io_error),
              HasSubstr("cannot write"));
}

}  // namespace
}  // namespace cohort
