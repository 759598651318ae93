#include "engine/data/items.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "data/temp_dir.hpp"

namespace cohort {
namespace {

using ::testing::HasSubstr;
using testing::error_of;
using testing::TempDir;
using Tags = std::vector<std::string>;

TEST(ReadItemCatalog, MovieLens100kItemWithLatin1Titles) {
  TempDir dir;
  // Item 3's title carries a Latin-1 e-acute (0xE9); item 99 is not in the interactions.
  auto path = dir.write("u.item",
                        "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
                        "3|Caf\xE9 au lait (1993)|01-Jan-1993||http://y|0|0|0|0|0|0|0|0|1|0|0|0|0|0|1|0|0|0|0\n"
                        "99|Other|01-Jan-1990||http://z|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n");
  ItemCatalog c = read_item_catalog(path, {"3", "1", "7"});
  ASSERT_EQ(c.titles.size(), 3u);
  EXPECT_EQ(c.titles[0], "Caf\xC3\xA9 au lait (1993)");
  EXPECT_EQ(c.tags[0], (Tags{"Drama", "Romance"}));
  EXPECT_EQ(c.titles[1], "Toy Story (1995)");
  EXPECT_EQ(c.tags[1], (Tags{"Animation", "Children's", "Comedy"}));
  EXPECT_EQ(c.titles[2], "");
  EXPECT_TRUE(c.tags[2].empty());
  EXPECT_FALSE(c.empty());
}

TEST(ReadItemCatalog, MovieLensDat) {
  TempDir dir;
  auto path = dir.write("movies.dat",
                        "1::Toy Story (1995)::Animation|Children's|Comedy\r\n"
                        "2::Jumanji (1995)::Adventure|Children's|Fantasy\r\n");
  ItemCatalog c = read_item_catalog(path, {"2", "1"});
  EXPECT_EQ(c.titles[0], "Jumanji (1995)");
  EXPECT_EQ(c.tags[0], (Tags{"Adventure", "Children's", "Fantasy"}));
  EXPECT_EQ(c.tags[1], (Tags{"Animation", "Children's", "Comedy"}));
}

TEST(ReadItemCatalog, MovieLensCsvWithQuotedTitles) {
  TempDir dir;
  auto path = dir.write("movies.csv",
                        "\xEF\xBB\xBFmovieId,title,genres\n"
                        "11,\"American President, The (1995)\",Comedy|Drama|Romance\n"
                        "12,\"Dracula: Dead and Loving It (1995)\",Comedy|Horror\n"
                        "13,Unknown Film (2015),(no genres listed)\n");
  ItemCatalog c = read_item_catalog(path, {"11", "13", "12"});
  EXPECT_EQ(c.titles[0], "American President, The (1995)");
  EXPECT_EQ(c.tags[0], (Tags{"Comedy", "Drama", "Romance"}));
  EXPECT_EQ(c.titles[1], "Unknown Film (2015)");
  EXPECT_TRUE(c.tags[1].empty());
  EXPECT_EQ(c.tags[2], (Tags{"Comedy", "Horror"}));
}

TEST(ReadItemCatalog, GenericItemsCsv) {
  TempDir dir;
  auto path = dir.write("items.csv", "item_id,title,tags\ni0,Item zero,cluster_3|popular\ni1,\"One, two\",\n");
  ItemCatalog c = read_item_catalog(path, {"i0", "i1"});
  EXPECT_EQ(c.titles[0], "Item zero");
  EXPECT_EQ(c.tags[0], (Tags{"cluster_3", "popular"}));
  EXPECT_EQ(c.titles[1], "One, two");
  EXPECT_TRUE(c.tags[1].empty());
}

TEST(ReadItemCatalog, MalformedLinesNameFileAndLine) {
  TempDir dir;
  auto flags = dir.write("u.item",
                         "1|A|d||u|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
                         "2|B|d||u|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|2\n");
  EXPECT_THAT(error_of([&] { read_item_catalog(flags, {"1"}); }, Status::bad_input),
              HasSubstr("u.item:2: genre flag '2' is not 0 or 1"));
  auto fields = dir.write("movies.csv", "movieId,title,genres\n1,A,Drama\n\n2,B\n");
  EXPECT_THAT(error_of([&] { read_item_catalog(fields, {"1"}); }, Status::bad_input),
              HasSubstr("movies.csv:4: expected 3 fields (id,title,tags), found 2: '2,B'"));
  auto dat = dir.write("movies.dat", "1::A::Drama\n2::B\n");
  EXPECT_THAT(error_of([&] { read_item_catalog(dat, {"1"}); }, Status::bad_input),
              HasSubstr("movies.dat:2: expected id::title::genres"));
  auto empty_id = dir.write("items.csv", "item_id,title,tags\n,A,x\n");
  EXPECT_THAT(error_of([&] { read_item_catalog(empty_id, {"1"}); }, Status::bad_input),
              HasSubstr("items.csv:2: empty item id"));
}

// Items of the catalogue that the data lacks are ignored; a catalogue that names none of the
// data's items is an error (every group would go unexplained, silently).
TEST(ReadItemCatalog, NoItemOfTheDataIsAnError) {
  TempDir dir;
  auto path = dir.write("items.csv", "item_id,title,tags\n1,A,x\n2,B,y\n");
  EXPECT_EQ(read_item_catalog(path, {"2", "9"}).titles, (std::vector<std::string>{"B", ""}));
  EXPECT_THAT(error_of([&] { read_item_catalog(path, {"i1", "i2"}); }, Status::bad_input),
              HasSubstr("none of its 2 items is in the interaction data (the first is '1')"));
}

TEST(ReadItemCatalog, UnrecognisedEmptyMissing) {
  TempDir dir;
  auto other = dir.write("other.txt", "just some words\n");
  EXPECT_THAT(error_of([&] { read_item_catalog(other, {"1"}); }, Status::bad_input),
              HasSubstr("not a recognised item file"));
  auto empty = dir.write("empty.csv", "");
  EXPECT_THAT(error_of([&] { read_item_catalog(empty, {"1"}); }, Status::bad_input), HasSubstr("empty"));
  EXPECT_THAT(error_of([&] { read_item_catalog(dir.path("none.csv"), {"1"}); }, Status::io_error),
              HasSubstr("No such file or directory"));
}

// Item text vectors: a header is optional, tabs work, rows come out unit length and aligned
// with the data's items (zero where the file has none), the file's other items are ignored.
TEST(ReadItemTextVectors, AlignedUnitRowsWithZerosForMissingItems) {
  TempDir dir;
  auto path = dir.write("vectors.csv", "item_id,v1,v2\ni2,3,4\nother,1,1\n\ni0,0,-2\n");
  ItemCatalog c;
  read_item_text_vectors(path, {"i0", "i1", "i2"}, c);
  ASSERT_TRUE(c.has_text());
  EXPECT_EQ(c.items_with_text, 2);
  ASSERT_EQ(c.text_vectors.rows, 3);
  ASSERT_EQ(c.text_vectors.cols, 2);
  EXPECT_EQ(c.text_vectors.data, (std::vector<float>{0.0f, -1.0f, 0.0f, 0.0f, 0.6f, 0.8f}));
  EXPECT_TRUE(c.titles.empty());  // the rest of the catalogue is left alone

  auto tabs = dir.write("vectors.tsv", "i1\t1\t0\t0\n");
  ItemCatalog t;
  read_item_text_vectors(tabs, {"i0", "i1"}, t);
  EXPECT_EQ(t.text_vectors.data, (std::vector<float>{0, 0, 0, 1, 0, 0}));
}

TEST(ReadItemTextVectors, BadLinesNameFileLineAndValue) {
  TempDir dir;
  auto check = [&](const char* content, const char* expected) {
    auto path = dir.write("v.csv", content);
    ItemCatalog c;
    EXPECT_THAT(error_of([&] { read_item_text_vectors(path, {"a", "b"}, c); }, Status::bad_input),
                HasSubstr(expected))
        << content;
    EXPECT_FALSE(c.has_text()) << "nothing is kept from a file that fails";
  };
  check("a,1,2\nb,1\n", "v.csv:2: 1 numbers where the first vector has 2");
  check("a,1,2\nb,1,x\n", "v.csv:2: value 2 'x' is not a finite number");
  check("a,1,2\nb,1,nan\n", "v.csv:2: value 2 'nan' is not a finite number");
  check("a,1,2\nb,0,0\n", "v.csv:2: the vector of item 'b' has no direction");
  check("a,1,2\nb,1,1\na,2,2\n", "v.csv:3: item 'a' was given a vector on line 1");
  check("a\n", "v.csv:1: expected item_id and at least one number");
  check("item_id,v1\n,1\n", "v.csv:2: empty item id");
  check("x,1\ny,2\n", "none of its 2 items is in the interaction data (the first is 'x')");
  check("item_id,v1\n", "lists no item vectors");
  check("", "is empty");
}

TEST(ReadTruth, HeaderOptionalUnknownIgnoredMissingMinusOne) {
  TempDir dir;
  auto with_header = dir.write("truth.csv", "user_id,group\nu1,2\nstranger,5\nu0,0\n");
  EXPECT_EQ(read_truth(with_header, {"u0", "u1", "u2"}), (std::vector<int32_t>{0, 2, -1}));
  auto without = dir.write("truth2.csv", "u2,1\r\nu0,3\r\n");
  EXPECT_EQ(read_truth(without, {"u0", "u1", "u2"}), (std::vector<int32_t>{3, -1, 1}));
}

TEST(ReadTruth, MalformedLinesNameFileAndLine) {
  TempDir dir;
  auto fields = dir.write("truth.csv", "u0,1\nu1,2,3\n");
  EXPECT_THAT(error_of([&] { read_truth(fields, {"u0", "u1"}); }, Status::bad_input),
              HasSubstr("truth.csv:2: expected 2 fields (user_id,group), found 3: 'u1,2,3'"));
  auto group = dir.write("truth2.csv", "user_id,group\nu0,1\nu1,two\n");
  EXPECT_THAT(error_of([&] { read_truth(group, {"u0", "u1"}); }, Status::bad_input),
              HasSubstr("truth2.csv:3: group 'two' is not a non-negative integer"));
  auto negative = dir.write("truth3.csv", "u0,-1\n");
  EXPECT_THAT(error_of([&] { read_truth(negative, {"u0"}); }, Status::bad_input), HasSubstr("truth3.csv:1:"));
  // Ids spelled otherwise than in the interactions: no user is known, and ARI against that would
  // read 1.0.
  auto strangers = dir.write("truth5.csv", "user_id,group\n1,0\n2,1\n");
  EXPECT_THAT(error_of([&] { read_truth(strangers, {"u1", "u2"}); }, Status::bad_input),
              HasSubstr("'" + strangers + "': none of its 2 users is in the interaction data (the first is '1')"));
  auto header_only = dir.write("truth6.csv", "user_id,group\n");
  EXPECT_THAT(error_of([&] { read_truth(header_only, {"u1"}); }, Status::bad_input), HasSubstr("lists no users"));
  auto conflict = dir.write("truth4.csv", "u0,1\nu0,2\n");
  EXPECT_THAT(error_of([&] { read_truth(conflict, {"u0"}); }, Status::bad_input),
              HasSubstr("truth4.csv:2: user 'u0' was given group 1 earlier"));
}

}  // namespace
}  // namespace cohort
