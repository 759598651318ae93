// Readers for interaction logs: MovieLens (100K u.data, 1M/10M ratings.dat, 20M/25M/latest
// ratings.csv) and generic delimited files. Ids may be any strings; they are remapped to
// dense indices in order of first appearance.
#pragma once

#include <string>

#include "engine/data/interactions.hpp"

namespace cohort {

enum class InputFormat { auto_detect, movielens, csv, cache };
// How repeated (user, item) pairs are merged: values summed, the largest kept, or the last
// one in file order kept (timestamps follow the kept value; sum keeps the latest timestamp).
enum class DuplicateRule { sum, max, last };

struct ReadOptions {
  InputFormat format = InputFormat::auto_detect;
  char delimiter = ',';
  bool header = false;
  // 0-based columns of user, item, value, timestamp; -1 = absent (value then defaults to 1).
  int user_column = 0;
  int item_column = 1;
  int value_column = 2;
  int timestamp_column = 3;
  // With infer_columns, the value and timestamp columns follow the field count of the first
  // line (the header, if any): user,item -> no value (1) and no timestamp; user,item,value ->
  // no timestamp; four or more -> value 2, timestamp 3. user_column and item_column stay.
  bool infer_columns = false;
  bool skip_bad_lines = false;
  DuplicateRule duplicates = DuplicateRule::sum;
};

// Reads a file into Interactions (CSR sorted, duplicates merged by options.duplicates).
// auto_detect: a cache by its magic; "u.data" / "*.dat" / "ratings.csv" by name and content as
// MovieLens; anything else as csv with options' delimiter/header/columns.
// Errors: Error(io_error) for a missing/unreadable file; Error(bad_input) naming file, line
// number and the offending text for a malformed line (wrong field count, empty id,
// non-numeric/NaN/inf value or timestamp) unless skip_bad_lines, in which case the line is
// counted in skipped_lines; Error(bad_input) for an empty result, binary content, or fewer
// than 2 users or 2 items.
Interactions read_interactions(const std::string& path, const ReadOptions& options);

// Parses the textual name of a format/rule ("auto", "movielens", "csv", "cache";
// "sum", "max", "last"); Error(invalid_argument) otherwise.
InputFormat parse_input_format(const std::string& name);
DuplicateRule parse_duplicate_rule(const std::string& name);

}  // namespace cohort
