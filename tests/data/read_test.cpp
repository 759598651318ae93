#include "engine/data/read.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "data/temp_dir.hpp"
#include "engine/data/cache.hpp"
#include "engine/data/text.hpp"

namespace cohort {
namespace {

using ::testing::HasSubstr;
using testing::error_of;
using testing::TempDir;

// The (row, col) value, or -1 when absent.
float at(const Csr& m, int64_t r, int32_t c) {
  for (int64_t p = m.indptr[r]; p < m.indptr[r + 1]; ++p) {
    if (m.indices[p] == c) return m.values[p];
  }
  return -1.0f;
}

int64_t timestamp_at(const Interactions& d, int64_t r, int32_t c) {
  const Csr& m = d.user_items;
  for (int64_t p = m.indptr[r]; p < m.indptr[r + 1]; ++p) {
    if (m.indices[p] == c) return d.timestamps[p];
  }
  return -1;
}

void expect_sorted_csr(const Csr& m) {
  ASSERT_EQ(m.indptr.size(), static_cast<size_t>(m.rows + 1));
  EXPECT_EQ(m.indptr.back(), m.nnz());
  for (int64_t r = 0; r < m.rows; ++r) {
    for (int64_t p = m.indptr[r] + 1; p < m.indptr[r + 1]; ++p) EXPECT_LT(m.indices[p - 1], m.indices[p]);
  }
}

TEST(ReadInteractions, MovieLens100kTabSeparated) {
  TempDir dir;
  auto path = dir.write("u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t377\t1\t878887116\n");
  Interactions d = read_interactions(path, {});
  EXPECT_EQ(d.user_ids, (std::vector<std::string>{"196", "186"}));
  EXPECT_EQ(d.item_ids, (std::vector<std::string>{"242", "302", "377"}));
  ASSERT_EQ(d.nnz(), 3);
  expect_sorted_csr(d.user_items);
  EXPECT_EQ(at(d.user_items, 0, 0), 3.0f);
  EXPECT_EQ(at(d.user_items, 0, 2), 1.0f);
  EXPECT_EQ(at(d.user_items, 1, 1), 3.0f);
  ASSERT_TRUE(d.has_timestamps());
  EXPECT_EQ(timestamp_at(d, 0, 2), 878887116);
  EXPECT_EQ(timestamp_at(d, 1, 1), 891717742);
  EXPECT_EQ(d.skipped_lines, 0);
  EXPECT_EQ(d.duplicates_merged, 0);
}

TEST(ReadInteractions, TabSeparatedDetectedByContentUnderAnyName) {
  TempDir dir;
  auto path = dir.write("log.txt", "1\t10\t5\t100\n2\t20\t4\t200\n");
  Interactions d = read_interactions(path, {});
  EXPECT_EQ(d.users(), 2);
  EXPECT_EQ(d.items(), 2);
  EXPECT_EQ(at(d.user_items, 1, 1), 4.0f);
}

TEST(ReadInteractions, MovieLens1mDoubleColon) {
  TempDir dir;
  auto path = dir.write("ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n");
  Interactions d = read_interactions(path, {});
  EXPECT_EQ(d.user_ids, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(d.item_ids, (std::vector<std::string>{"1193", "661"}));
  EXPECT_EQ(at(d.user_items, 0, 1), 3.0f);
  EXPECT_EQ(at(d.user_items, 1, 0), 4.0f);
  EXPECT_EQ(timestamp_at(d, 0, 0), 978300760);
}

TEST(ReadInteractions, MovieLensCsvWithHeaderAndHalfStars) {
  TempDir dir;
  auto path = dir.write("ratings.csv",
                        "userId,movieId,rating,timestamp\n1,307,3.5,1256677221\n1,481,3.5,1256677456\n"
                        "2,307,4.0,1256677471\n");
  Interactions d = read_interactions(path, {});
  EXPECT_EQ(d.users(), 2);
  EXPECT_EQ(d.items(), 2);
  EXPECT_FLOAT_EQ(at(d.user_items, 0, 0), 3.5f);
  EXPECT_FLOAT_EQ(at(d.user_items, 1, 0), 4.0f);
  ReadOptions movielens;
  movielens.format = InputFormat::movielens;
  EXPECT_EQ(read_interactions(path, movielens).nnz(), 3);
}

TEST(ReadInteractions, MovieLensFormatRejectsOtherFiles) {
  TempDir dir;
  auto path = dir.write("other.csv", "a,b,1\nc,d,2\n");
  ReadOptions options;
  options.format = InputFormat::movielens;
  std::string message = error_of([&] { read_interactions(path, options); }, Status::bad_input);
  EXPECT_THAT(message, HasSubstr("not a MovieLens ratings file"));
  EXPECT_THAT(message, HasSubstr("other.csv"));
}

TEST(ReadInteractions, GenericCsvColumnsWithoutValueOrTimestamp) {
  TempDir dir;
  auto path = dir.write("plays.txt", "item;user;extra\nsongA;alice;x\nsongB;bob;y\nsongA;bob;z\n");
  ReadOptions options;
  options.format = InputFormat::csv;
  options.delimiter = ';';
  options.header = true;
  options.user_column = 1;
  options.item_column = 0;
  options.value_column = -1;
  options.timestamp_column = -1;
  Interactions d = read_interactions(path, options);
  EXPECT_EQ(d.user_ids, (std::vector<std::string>{"alice", "bob"}));
  EXPECT_EQ(d.item_ids, (std::vector<std::string>{"songA", "songB"}));
  EXPECT_FALSE(d.has_timestamps());
  EXPECT_EQ(at(d.user_items, 1, 0), 1.0f);
  EXPECT_EQ(at(d.user_items, 1, 1), 1.0f);
  EXPECT_EQ(at(d.user_items, 0, 1), -1.0f);
}

TEST(ReadInteractions, AutoDetectRecognisesAColumnNameHeader) {
  TempDir dir;
  auto path = dir.write("interactions.csv", "user_id,item_id,rating,timestamp\nu1,i1,5,10\nu2,i2,3,20\n");
  Interactions d = read_interactions(path, {});
  EXPECT_EQ(d.user_ids, (std::vector<std::string>{"u1", "u2"}));
  // Given explicitly as csv without a header, the same line is a bad line.
  ReadOptions options;
  options.format = InputFormat::csv;
  std::string message = error_of([&] { read_interactions(path, options); }, Status::bad_input);
  EXPECT_THAT(message, HasSubstr("interactions.csv:1: value 'rating' is not a finite number"));
}

// infer_columns (the CLI without --columns): the first line's field count says which of value
// and timestamp the file has.
TEST(ReadInteractions, InferredColumnsFollowTheFirstLine) {
  TempDir dir;
  ReadOptions options;
  options.infer_columns = true;
  {  // user,item: every value 1, no timestamps
    Interactions d = read_interactions(dir.write("clicks.csv", "alice,book\nbob,film\nalice,film\n"), options);
    EXPECT_EQ(d.user_ids, (std::vector<std::string>{"alice", "bob"}));
    EXPECT_FALSE(d.has_timestamps());
    EXPECT_EQ(at(d.user_items, 0, 1), 1.0f);
  }
  {  // user,item,value under a header of names (auto-detected)
    Interactions d =
        read_interactions(dir.write("rated.csv", "user,item,rating\nu1,i1,4.5\nu2,i2,3\nu1,i2,2\n"), options);
    EXPECT_EQ(d.user_ids, (std::vector<std::string>{"u1", "u2"}));
    EXPECT_FALSE(d.has_timestamps());
    EXPECT_EQ(at(d.user_items, 0, 0), 4.5f);
  }
  {  // four fields: value and timestamp
    Interactions d = read_interactions(dir.write("full.csv", "u1,i1,5,10\nu2,i2,3,20\n"), options);
    EXPECT_TRUE(d.has_timestamps());
    EXPECT_EQ(timestamp_at(d, 1, 1), 20);
  }
  {  // tab-separated with the delimiter given
    ReadOptions tab = options;
    tab.format = InputFormat::csv;
    tab.delimiter = '\t';
    Interactions d = read_interactions(dir.write("plays.tsv", "a\tx\t2\nb\ty\t7\n"), tab);
    EXPECT_EQ(at(d.user_items, 1, 1), 7.0f);
  }
  // A later line with another field count is a bad line named by its number.
  std::string message = error_of(
      [&] { read_interactions(dir.write("ragged.csv", "u1,i1\nu2,i2\nu3,i3,5\n"), options); }, Status::bad_input);
  EXPECT_THAT(message, HasSubstr("ragged.csv:3: expected 2 fields, found 3"));
  // One field is not an interaction.
  message = error_of([&] { read_interactions(dir.write("ids.csv", "u1\nu2\n"), options); }, Status::bad_input);
  EXPECT_THAT(message, HasSubstr("ids.csv:1: expected at least 2 fields, found 1"));
  // A tab-separated file read with the default ',' says what it found.
  message = error_of([&] { read_interactions(dir.write("plays.txt", "a\tx\nb\ty\n"), options); }, Status::bad_input);
  EXPECT_THAT(message, HasSubstr("expected at least 2 fields, found 1 (the delimiter is ','; the line contains tabs)"));
}

TEST(ReadInteractions, StringIdsInOrderOfFirstAppearanceAndRowsSorted) {
  TempDir dir;
  auto path = dir.write("log.csv", "bob,zeta,1,5\n  alice , alpha ,2,6\nbob,alpha,3,7\nbob,mid,4,8\n");
  Interactions d = read_interactions(path, {});
  EXPECT_EQ(d.user_ids, (std::vector<std::string>{"bob", "alice"}));
  EXPECT_EQ(d.item_ids, (std::vector<std::string>{"zeta", "alpha", "mid"}));
  expect_sorted_csr(d.user_items);
  // bob's row came in as zeta(0), alpha(1), mid(2): sorted, values and timestamps follow.
  ASSERT_EQ(d.user_items.row_length(0), 3);
  EXPECT_EQ(d.user_items.indices[0], 0);
  EXPECT_EQ(d.user_items.indices[1], 1);
  EXPECT_EQ(d.user_items.values[1], 3.0f);
  EXPECT_EQ(d.timestamps[1], 7);
  EXPECT_EQ(d.timestamps[2], 8);
}

TEST(ReadInteractions, NumericLookingIdsStayDistinctStrings) {
  TempDir dir;
  auto path = dir.write("ids.csv", "7,1,1,1\n007,1,1,2\nx7,2,1,3\n7,2,1,4\n99999999,2,1,5\n");
  Interactions d = read_interactions(path, {});
  EXPECT_EQ(d.user_ids, (std::vector<std::string>{"7", "007", "x7", "99999999"}));
  EXPECT_EQ(d.user_items.row_length(0), 2);
}

TEST(ReadInteractions, CrlfByteOrderMarkBlankLinesAndNoTrailingNewline) {
  TempDir dir;
  auto path = dir.write("win.csv", "\xEF\xBB\xBFu1,i1,1,100\r\n\r\n  \r\nu2,i2,2,200\r\nu1,i2,3,300");
  Interactions d = read_interactions(path, {});
  EXPECT_EQ(d.user_ids, (std::vector<std::string>{"u1", "u2"}));
  EXPECT_EQ(d.item_ids, (std::vector<std::string>{"i1", "i2"}));
  EXPECT_EQ(at(d.user_items, 0, 1), 3.0f);
  EXPECT_EQ(timestamp_at(d, 0, 1), 300);
  EXPECT_EQ(d.skipped_lines, 0);
}

TEST(ReadInteractions, QuotedCsvFieldsAreUnquoted) {
  TempDir dir;
  auto path = dir.write("quoted.csv",
                        "\"Smith, Jane\",\"The \"\"Best\"\" Film\",4,1\n"
                        "plain,\"a,b\",2,2\n"
                        " \"Smith, Jane\" ,plain item,1,3\n");
  Interactions d = read_interactions(path, {});
  EXPECT_EQ(d.user_ids, (std::vector<std::string>{"Smith, Jane", "plain"}));
  EXPECT_EQ(d.item_ids, (std::vector<std::string>{"The \"Best\" Film", "a,b", "plain item"}));
  EXPECT_EQ(at(d.user_items, 0, 2), 1.0f);
}

struct BadLine {
  const char* content;  // line 2 of the file is the bad one
  const char* expected;
};

class MalformedLine : public ::testing::TestWithParam<BadLine> {};

TEST_P(MalformedLine, FailsNamingFileLineAndText) {
  TempDir dir;
  auto path = dir.write("ratings_bad.csv", std::string("1,10,5,100\n") + GetParam().content + "\n2,20,4,200\n");
  std::string message = error_of([&] { read_interactions(path, {}); }, Status::bad_input);
  EXPECT_THAT(message, HasSubstr(std::string("ratings_bad.csv:2: ") + GetParam().expected)) << message;
}

TEST_P(MalformedLine, IsSkippedAndCountedWhenAsked) {
  TempDir dir;
  auto path = dir.write("ratings_bad.csv", std::string("1,10,5,100\n") + GetParam().content + "\n2,20,4,200\n");
  ReadOptions options;
  options.skip_bad_lines = true;
  Interactions d = read_interactions(path, options);
  EXPECT_EQ(d.skipped_lines, 1);
  EXPECT_EQ(d.nnz(), 2);
  EXPECT_EQ(d.user_ids, (std::vector<std::string>{"1", "2"}));
}

INSTANTIATE_TEST_SUITE_P(
    ReadInteractions, MalformedLine,
    ::testing::Values(BadLine{"12,55,4", "expected 4 fields, found 3: '12,55,4'"},
                      BadLine{"12,55,4,7,9", "expected 4 fields, found 5: '12,55,4,7,9'"},
                      BadLine{" ,55,4,7", "empty user id: ' ,55,4,7'"},
                      BadLine{"12,\"\",4,7", "empty item id: '12,\"\",4,7'"},
                      BadLine{"12,55,four,7", "value 'four' is not a finite number: '12,55,four,7'"},
                      BadLine{"12,55,nan,7", "value 'nan' is not a finite number"},
                      BadLine{"12,55,inf,7", "value 'inf' is not a finite number"},
                      BadLine{"12,55,1e999,7", "value '1e999' is not a finite number"},
                      BadLine{"12,55,4,yesterday", "timestamp 'yesterday' is not a number: '12,55,4,yesterday'"},
                      BadLine{"12,\"55,4,7", "unterminated quote"}));

TEST(ReadInteractions, LongBadLineIsQuotedShortened) {
  TempDir dir;
  std::string long_line = "1,2,3," + std::string(200, 'x');
  auto path = dir.write("long.csv", "1,10,5,100\n" + long_line + "\n");
  std::string message = error_of([&] { read_interactions(path, {}); }, Status::bad_input);
  EXPECT_THAT(message, HasSubstr("long.csv:2: timestamp"));
  EXPECT_THAT(message, HasSubstr("...'"));
  EXPECT_LT(message.size(), 300u);
}

TEST(ReadInteractions, LineNumbersCountBlankLines) {
  TempDir dir;
  auto path = dir.write("gaps.csv", "1,10,5,100\n\n\n2,20,x,200\n");
  std::string message = error_of([&] { read_interactions(path, {}); }, Status::bad_input);
  EXPECT_THAT(message, HasSubstr("gaps.csv:4:"));
}

TEST(ReadInteractions, SkipBadLinesCountsEveryBadLine) {
  TempDir dir;
  auto path = dir.write("mixed.csv", "a,x,1,1\nbad\na,y,2,2\n,y,1,1\nb,x,q,3\nb,y,4,4\n");
  ReadOptions options;
  options.skip_bad_lines = true;
  Interactions d = read_interactions(path, options);
  EXPECT_EQ(d.skipped_lines, 3);
  EXPECT_EQ(d.nnz(), 3);
}

TEST(ReadInteractions, MissingFileIsAnIoError) {
  TempDir dir;
  std::string path = dir.path("absent.csv");
  std::string message = error_of([&] { read_interactions(path, {}); }, Status::io_error);
  EXPECT_THAT(message, HasSubstr("cannot open '" + path + "': No such file or directory"));
}

TEST(ReadInteractions, DirectoryIsAnIoError) {
  TempDir dir;
  std::string message = error_of([&] { read_interactions(dir.root().string(), {}); }, Status::io_error);
  EXPECT_THAT(message, HasSubstr("cannot open"));
}

TEST(ReadInteractions, EmptyAndBlankFilesAreBadInput) {
  TempDir dir;
  auto empty = dir.write("empty.csv", "");
  EXPECT_THAT(error_of([&] { read_interactions(empty, {}); }, Status::bad_input), HasSubstr("empty"));
  auto blank = dir.write("blank.csv", "\n  \n\r\n");
  EXPECT_THAT(error_of([&] { read_interactions(blank, {}); }, Status::bad_input),
              HasSubstr("no valid interaction lines"));
  auto all_bad = dir.write("allbad.csv", "x\ny\n");
  ReadOptions options;
  options.skip_bad_lines = true;
  EXPECT_THAT(error_of([&] { read_interactions(all_bad, options); }, Status::bad_input), HasSubstr("2 skipped"));
}

TEST(ReadInteractions, BinaryContentIsRejected) {
  TempDir dir;
  std::string bytes;
  for (int i = 0; i < 3000; ++i) bytes.push_back(static_cast<char>((i * 7919) % 256));
  auto path = dir.write("model.bin", bytes);
  EXPECT_THAT(error_of([&] { read_interactions(path, {}); }, Status::bad_input), HasSubstr("looks binary"));
}

TEST(ReadInteractions, FewerThanTwoUsersOrItems) {
  TempDir dir;
  auto one_user = dir.write("one_user.csv", "u,a,1,1\nu,b,1,2\n");
  EXPECT_THAT(error_of([&] { read_interactions(one_user, {}); }, Status::bad_input),
              HasSubstr("1 user(s) and 2 item(s)"));
  auto one_item = dir.write("one_item.csv", "u,a,1,1\nv,a,1,2\n");
  EXPECT_THAT(error_of([&] { read_interactions(one_item, {}); }, Status::bad_input),
              HasSubstr("2 user(s) and 1 item(s)"));
}

// u repeats item a three times: values 2 (t=10), 5 (t=5), 3 (t=30).
constexpr const char* kDuplicates = "u,a,2,10\nv,b,1,1\nu,a,5,5\nu,b,1,2\nu,a,3,30\nv,b,4,0\n";

TEST(ReadInteractions, DuplicatesSummedWithLatestTimestamp) {
  TempDir dir;
  auto path = dir.write("dups.csv", kDuplicates);
  Interactions d = read_interactions(path, {});
  EXPECT_EQ(d.duplicates_merged, 2);  // (u, a) and (v, b)
  EXPECT_EQ(d.nnz(), 3);
  EXPECT_EQ(at(d.user_items, 0, 0), 10.0f);
  EXPECT_EQ(timestamp_at(d, 0, 0), 30);
  EXPECT_EQ(at(d.user_items, 1, 1), 5.0f);
  EXPECT_EQ(timestamp_at(d, 1, 1), 1);
}

TEST(ReadInteractions, DuplicatesMaxKeepsTheLargestAndItsTimestamp) {
  TempDir dir;
  auto path = dir.write("dups.csv", kDuplicates);
  ReadOptions options;
  options.duplicates = DuplicateRule::max;
  Interactions d = read_interactions(path, options);
  EXPECT_EQ(at(d.user_items, 0, 0), 5.0f);
  EXPECT_EQ(timestamp_at(d, 0, 0), 5);
  EXPECT_EQ(at(d.user_items, 1, 1), 4.0f);
  EXPECT_EQ(timestamp_at(d, 1, 1), 0);
  EXPECT_EQ(d.duplicates_merged, 2);
}

TEST(ReadInteractions, DuplicatesLastKeepsFileOrder) {
  TempDir dir;
  auto path = dir.write("dups.csv", kDuplicates);
  ReadOptions options;
  options.duplicates = DuplicateRule::last;
  Interactions d = read_interactions(path, options);
  EXPECT_EQ(at(d.user_items, 0, 0), 3.0f);
  EXPECT_EQ(timestamp_at(d, 0, 0), 30);
  EXPECT_EQ(at(d.user_items, 1, 1), 4.0f);
  EXPECT_EQ(timestamp_at(d, 1, 1), 0);
}

TEST(ReadInteractions, AutoDetectReadsACache) {
  TempDir dir;
  auto csv = dir.write("log.csv", "1,10,5,100\n2,20,4,200\n");
  Interactions d = read_interactions(csv, {});
  std::string cache = dir.path("log.cohort");
  write_cache(cache, d);
  Interactions back = read_interactions(cache, {});
  EXPECT_EQ(back.user_ids, d.user_ids);
  EXPECT_EQ(back.user_items.values, d.user_items.values);
  ReadOptions options;
  options.format = InputFormat::cache;
  EXPECT_THAT(error_of([&] { read_interactions(csv, options); }, Status::bad_input), HasSubstr("not a cohort cache"));
}

TEST(ReadInteractions, BadColumnOptionsAreInvalidArguments) {
  TempDir dir;
  auto path = dir.write("log.csv", "1,10,5,100\n2,20,4,200\n");
  ReadOptions options;
  options.item_column = 0;
  error_of([&] { read_interactions(path, options); }, Status::invalid_argument);
  options = {};
  options.delimiter = '"';
  error_of([&] { read_interactions(path, options); }, Status::invalid_argument);
}

TEST(ReadInteractions, ManyLinesAcrossChunks) {
  TempDir dir;
  std::string content;
  for (int i = 0; i < 30000; ++i) content += fmt::format("user{},item{},{},{}\n", i % 997, i % 1013, i % 5 + 1, i);
  auto path = dir.write("big.csv", content);
  Interactions d = read_interactions(path, {});
  EXPECT_EQ(d.users(), 997);
  EXPECT_EQ(d.items(), 1013);
  // gcd(997, 1013) = 1, so all 30000 pairs are distinct.
  EXPECT_EQ(d.nnz(), 30000);
  expect_sorted_csr(d.user_items);
}

TEST(LineReader, LinesStraddlingChunkBoundaries) {
  TempDir dir;
  std::string content;
  for (int i = 0; i < 20000; ++i) content += std::string(static_cast<size_t>(i % 37), 'a') + std::to_string(i) + "\r\n";
  content += std::string(200000, 'z');  // one line longer than the 64 KiB chunk, no newline
  auto path = dir.write("lines.txt", content);
  text::LineReader reader(path, 1);
  std::string_view line;
  for (int i = 0; i < 20000; ++i) {
    ASSERT_TRUE(reader.next(line));
    ASSERT_EQ(line, std::string(static_cast<size_t>(i % 37), 'a') + std::to_string(i));
  }
  ASSERT_TRUE(reader.next(line));
  EXPECT_EQ(line.size(), 200000u);
  EXPECT_EQ(reader.line_number(), 20001);
  EXPECT_FALSE(reader.next(line));
}

TEST(Text, ExcerptShortensAndMasksControlBytes) {
  EXPECT_EQ(text::excerpt(std::string_view("a\0b\x1b", 4)), "a?b?");
  std::string long_text(100, 'y');
  EXPECT_EQ(text::excerpt(long_text), std::string(77, 'y') + "...");
  // The cut backs off rather than split the two bytes of U+00E9.
  std::string accented = std::string(76, 'a') + "\xC3\xA9" + std::string(10, 'b');
  EXPECT_EQ(text::excerpt(accented), std::string(76, 'a') + "...");
}

TEST(Text, SplitFieldsQuoting) {
  std::vector<std::string_view> fields;
  std::string scratch;
  ASSERT_TRUE(text::split_fields(" a ,\"b,\"\"c\"\"\" , ,", ",", true, fields, scratch));
  EXPECT_EQ(fields, (std::vector<std::string_view>{"a", "b,\"c\"", "", ""}));
  EXPECT_FALSE(text::split_fields("\"open,x", ",", true, fields, scratch));
  EXPECT_FALSE(text::split_fields("\"closed\"junk,x", ",", true, fields, scratch));
  ASSERT_TRUE(text::split_fields("1::2::3", "::", false, fields, scratch));
  EXPECT_EQ(fields.size(), 3u);
}

TEST(ParseNames, FormatsAndRules) {
  EXPECT_EQ(parse_input_format("auto"), InputFormat::auto_detect);
  EXPECT_EQ(parse_input_format("movielens"), InputFormat::movielens);
  EXPECT_EQ(parse_input_format("csv"), InputFormat::csv);
  EXPECT_EQ(parse_input_format("cache"), InputFormat::cache);
  EXPECT_THAT(error_of([] { parse_input_format("parquet"); }, Status::invalid_argument), HasSubstr("'parquet'"));
  EXPECT_EQ(parse_duplicate_rule("sum"), DuplicateRule::sum);
  EXPECT_EQ(parse_duplicate_rule("max"), DuplicateRule::max);
  EXPECT_EQ(parse_duplicate_rule("last"), DuplicateRule::last);
  EXPECT_THAT(error_of([] { parse_duplicate_rule("mean"); }, Status::invalid_argument), HasSubstr("'mean'"));
}

}  // namespace
}  // namespace cohort
