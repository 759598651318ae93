#include "engine/data/read.hpp"

#include <algorithm>
#include <cctype>
#include <functional>
#include <limits>
#include <numeric>
#include <optional>
#include <string_view>

#include "engine/data/cache.hpp"
#include "engine/data/text.hpp"
#include "kernels/error.hpp"

namespace cohort {
namespace {

// How the lines of one file are laid out.
struct Layout {
  std::string delimiter;
  bool header = false;
  bool quotes = false;
  int user_column = 0;
  int item_column = 1;
  int value_column = 2;
  int timestamp_column = 3;
  size_t fields = 0;  // expected per line; 0 = taken from the header or the first good line

  size_t needed_fields() const {
    return static_cast<size_t>(std::max({user_column, item_column, value_column, timestamp_column})) + 1;
  }
};

Layout movielens_layout(std::string delimiter, bool header) {
  Layout layout;
  layout.delimiter = std::move(delimiter);
  layout.header = header;
  layout.quotes = layout.delimiter == ",";
  layout.fields = 4;
  return layout;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view first_line(std::string_view head) {
  while (!head.empty()) {
    size_t end = head.find('\n');
    std::string_view line = text::trim(head.substr(0, end));
    if (!line.empty()) return line;
    if (end == std::string_view::npos) break;
    head.remove_prefix(end + 1);
  }
  return {};
}

bool all_numeric(const std::vector<std::string_view>& fields) {
  float unused;
  return std::all_of(fields.begin(), fields.end(), [&](std::string_view f) { return text::parse_float(f, unused); });
}

std::string base_name(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// u.data (tab), ratings.dat ("::") or ratings.csv (its header), by name and content.
std::optional<Layout> detect_movielens(const std::string& path, std::string_view first) {
  std::vector<std::string_view> fields;
  std::string scratch;
  std::string name = base_name(path);
  if (first.find("::") != std::string_view::npos) {
    text::split_fields(first, "::", false, fields, scratch);
    if (name.ends_with(".dat") || fields.size() == 4) return movielens_layout("::", false);
  }
  if (name == "u.data") return movielens_layout("\t", false);
  if (first.find('\t') != std::string_view::npos) {
    text::split_fields(first, "\t", false, fields, scratch);
    if (fields.size() == 4 && all_numeric(fields)) return movielens_layout("\t", false);
  }
  if (lower(first) == "userid,movieid,rating,timestamp") return movielens_layout(",", true);
  return std::nullopt;
}

// options with infer_columns resolved against the first line (see ReadOptions).
ReadOptions with_inferred_columns(ReadOptions options, std::string_view first) {
  if (!options.infer_columns) return options;
  std::vector<std::string_view> fields;
  std::string scratch;
  const std::string delimiter(1, options.delimiter);
  const size_t n = text::split_fields(first, delimiter, true, fields, scratch) ? fields.size() : 0;
  options.value_column = n >= 3 ? 2 : -1;
  options.timestamp_column = n >= 4 ? 3 : -1;
  return options;
}

Layout csv_layout(const ReadOptions& options) {
  COHORT_CHECK(options.delimiter != '"' && options.delimiter != '\n' && options.delimiter != '\r' &&
                   options.delimiter != '\0',
               "read_interactions: character code {} cannot be a field delimiter", static_cast<int>(options.delimiter));
  COHORT_CHECK(options.user_column >= 0 && options.item_column >= 0 && options.user_column != options.item_column,
               "read_interactions: user column {} and item column {} must be distinct and >= 0",
               options.user_column, options.item_column);
  COHORT_CHECK(options.value_column >= -1 && options.timestamp_column >= -1,
               "read_interactions: value column {} / timestamp column {} must be >= 0, or -1 for none",
               options.value_column, options.timestamp_column);
  auto clashes = [&](int c) { return c >= 0 && (c == options.user_column || c == options.item_column); };
  COHORT_CHECK(!clashes(options.value_column) && !clashes(options.timestamp_column) &&
                   (options.value_column < 0 || options.value_column != options.timestamp_column),
               "read_interactions: columns user {}, item {}, value {}, timestamp {} overlap", options.user_column,
               options.item_column, options.value_column, options.timestamp_column);
  Layout layout;
  layout.delimiter = std::string(1, options.delimiter);
  layout.header = options.header;
  layout.quotes = true;
  layout.user_column = options.user_column;
  layout.item_column = options.item_column;
  layout.value_column = options.value_column;
  layout.timestamp_column = options.timestamp_column;
  return layout;
}

// A first line of column names ("user_id,item_id,rating,timestamp"): every field starts with a
// letter and none is a number, and there is a value or timestamp column that data would fill
// with numbers. Only used under auto_detect.
bool looks_like_header(std::string_view first, const Layout& layout) {
  if (layout.value_column < 0 && layout.timestamp_column < 0) return false;
  std::vector<std::string_view> fields;
  std::string scratch;
  if (!text::split_fields(first, layout.delimiter, layout.quotes, fields, scratch)) return false;
  if (fields.size() < layout.needed_fields()) return false;
  float unused;
  return std::all_of(fields.begin(), fields.end(), [&](std::string_view f) {
    return !f.empty() && (std::isalpha(static_cast<unsigned char>(f[0])) || f[0] == '_') &&
           !text::parse_float(f, unused);
  });
}

Layout choose_layout(const std::string& path, std::string_view head, const ReadOptions& options) {
  std::string_view first = first_line(head);
  switch (options.format) {
    case InputFormat::movielens: {
      auto layout = detect_movielens(path, first);
      COHORT_CHECK_STATUS(layout.has_value(), Status::bad_input,
                          "'{}' is not a MovieLens ratings file: expected u.data (tab-separated), ratings.dat "
                          "('::') or ratings.csv (header userId,movieId,rating,timestamp); first line: '{}'",
                          path, text::excerpt(first));
      return *layout;
    }
    case InputFormat::auto_detect: {
      if (auto layout = detect_movielens(path, first)) return *layout;
      Layout layout = csv_layout(with_inferred_columns(options, first));
      if (!layout.header && looks_like_header(first, layout)) layout.header = true;
      return layout;
    }
    default:
      return csv_layout(with_inferred_columns(options, first));
  }
}

// Dense indices for string ids in order of first appearance.
class IdMap {
 public:
  explicit IdMap(const char* what) : what_(what) {}

  int32_t intern(std::string_view id) {
    // Most logs use small decimal ids: a direct table beats hashing by far. Only the
    // canonical spelling ("42", not "042") goes there, so the two maps never disagree.
    uint32_t number;
    if (small_number(id, number)) {
      if (number >= by_number_.size()) by_number_.resize(std::max<size_t>(number + 1, by_number_.size() * 2), -1);
      int32_t& slot = by_number_[number];
      if (slot < 0) slot = add(id);
      return slot;
    }
    // Logs are often grouped by user: a repeat of the last id skips the hash lookup.
    if (last_text_ >= 0 && ids_[static_cast<size_t>(last_text_)] == id) return last_text_;
    const uint64_t hash = std::hash<std::string_view>{}(id);
    size_t pos = find_slot(id, hash);
    if (slots_[pos] != 0) return last_text_ = static_cast<int32_t>((slots_[pos] & 0xFFFFFFFFu) - 1);
    int32_t index = add(id);
    slots_[pos] = pack(hash, index);
    if (++text_count_ * 2 > slots_.size()) grow();
    return last_text_ = index;
  }
  std::vector<std::string> release() { return std::move(ids_); }

 private:
  static constexpr uint32_t kDirectLimit = uint32_t{1} << 22;  // a table of at most 16 MiB

  static bool small_number(std::string_view s, uint32_t& out) {
    if (s.empty() || s.size() > 7 || (s[0] == '0' && s.size() > 1)) return false;
    uint32_t v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + static_cast<uint32_t>(c - '0');
    }
    out = v;
    return v < kDirectLimit;
  }

  int32_t add(std::string_view id) {
    COHORT_CHECK_STATUS(ids_.size() < static_cast<size_t>(std::numeric_limits<int32_t>::max()), Status::bad_input,
                        "read_interactions: more than {} distinct {} ids", std::numeric_limits<int32_t>::max(),
                        what_);
    ids_.emplace_back(id);
    return static_cast<int32_t>(ids_.size() - 1);
  }

  // Other ids live in an open-addressing table (linear probing, at most half full). A slot
  // packs the hash's high 32 bits with index + 1 (0 = empty), so a probe reads one word and
  // compares text only on a tag match; std::unordered_map's scattered nodes cost a cache
  // miss per probe, which dominated reading string ids.
  static uint64_t pack(uint64_t hash, int32_t index) {
    return (hash & 0xFFFFFFFF00000000u) | (static_cast<uint64_t>(index) + 1);
  }

  // The slot holding id, or the empty slot where it belongs.
  size_t find_slot(std::string_view id, uint64_t hash) const {
    const size_t mask = slots_.size() - 1;
    const uint64_t tag = hash & 0xFFFFFFFF00000000u;
    for (size_t pos = hash & mask;; pos = (pos + 1) & mask) {
      const uint64_t slot = slots_[pos];
      if (slot == 0) return pos;
      if ((slot & 0xFFFFFFFF00000000u) == tag && ids_[(slot & 0xFFFFFFFFu) - 1] == id) return pos;
    }
  }

  void grow() {
    std::vector<uint64_t> old(slots_.size() * 2, 0);
    old.swap(slots_);
    const size_t mask = slots_.size() - 1;
    for (uint64_t slot : old) {
      if (slot == 0) continue;
      const std::string& id = ids_[(slot & 0xFFFFFFFFu) - 1];
      size_t pos = std::hash<std::string_view>{}(id) & mask;
      while (slots_[pos] != 0) pos = (pos + 1) & mask;
      slots_[pos] = slot;
    }
  }

  const char* what_;
  std::vector<int32_t> by_number_;
  std::vector<uint64_t> slots_ = std::vector<uint64_t>(1024, 0);
  size_t text_count_ = 0;
  std::vector<std::string> ids_;
  int32_t last_text_ = -1;
};

struct Parsed {
  std::vector<int32_t> users;
  std::vector<int32_t> items;
  std::vector<float> values;
  std::vector<int64_t> timestamps;
  IdMap user_ids{"user"};
  IdMap item_ids{"item"};
  int64_t skipped = 0;
};

// " (the delimiter is ','; the line contains tabs)" when a line that splits into too few
// fields holds another common delimiter; empty otherwise.
std::string other_delimiter_hint(std::string_view line, const std::string& delimiter) {
  static constexpr std::pair<char, const char*> kCommon[] = {{'\t', "tabs"}, {';', "';'"}, {'|', "'|'"}, {',', "','"}};
  for (const auto& [c, name] : kCommon) {
    if (delimiter.find(c) == std::string::npos && line.find(c) != std::string_view::npos)
      return fmt::format(" (the delimiter is '{}'; the line contains {})", delimiter == "\t" ? "\\t" : delimiter, name);
  }
  return {};
}

void parse_lines(text::LineReader& reader, const std::string& path, Layout layout, bool skip_bad_lines,
                 Parsed& out) {
  const bool has_value = layout.value_column >= 0;
  const bool has_time = layout.timestamp_column >= 0;
  const auto uc = static_cast<size_t>(layout.user_column);
  const auto ic = static_cast<size_t>(layout.item_column);
  const auto vc = static_cast<size_t>(layout.value_column);
  const auto tc = static_cast<size_t>(layout.timestamp_column);
  const size_t needed = layout.needed_fields();

  // Reserve from the size of the first lines, so the arrays do not double past the need.
  std::string_view head = reader.head();
  auto head_lines = static_cast<int64_t>(std::count(head.begin(), head.end(), '\n')) + 1;
  int64_t estimate = reader.file_size() / std::max<int64_t>(1, static_cast<int64_t>(head.size()) / head_lines);
  estimate = std::min(estimate + estimate / 16 + 16, reader.file_size() / 4 + 16);
  out.users.reserve(static_cast<size_t>(estimate));
  out.items.reserve(static_cast<size_t>(estimate));
  out.values.reserve(static_cast<size_t>(estimate));
  if (has_time) out.timestamps.reserve(static_cast<size_t>(estimate));

  std::vector<std::string_view> fields;
  std::string scratch;
  bool header_pending = layout.header;
  std::string_view line;
  while (reader.next(line)) {
    if (text::trim(line).empty()) continue;
    auto bad = [&](std::string message) {
      if (!skip_bad_lines) text::fail_line(path, reader.line_number(), message, line);
      ++out.skipped;
    };
    if (!text::split_fields(line, layout.delimiter, layout.quotes, fields, scratch)) {
      bad("unterminated quote or text after a closing quote");
      continue;
    }
    if (header_pending) {
      header_pending = false;
      if (fields.size() < needed) {
        text::fail_line(path, reader.line_number(),
                        fmt::format("header has {} fields, the columns need at least {}", fields.size(), needed),
                        line);
      }
      if (layout.fields == 0) layout.fields = fields.size();
      continue;
    }
    if (layout.fields == 0 && fields.size() >= needed) layout.fields = fields.size();
    if (layout.fields == 0) {
      bad(fmt::format("expected at least {} fields, found {}{}", needed, fields.size(),
                      other_delimiter_hint(line, layout.delimiter)));
      continue;
    }
    if (fields.size() != layout.fields) {
      bad(fmt::format("expected {} fields, found {}", layout.fields, fields.size()));
      continue;
    }
    std::string_view user = text::trim(fields[uc]);
    std::string_view item = text::trim(fields[ic]);
    if (user.empty()) {
      bad("empty user id");
      continue;
    }
    if (item.empty()) {
      bad("empty item id");
      continue;
    }
    float value = 1.0f;
    if (has_value && !text::parse_float(fields[vc], value)) {
      bad(fmt::format("value '{}' is not a finite number", text::excerpt(fields[vc])));
      continue;
    }
    int64_t time = 0;
    if (has_time && !text::parse_int64(fields[tc], time)) {
      bad(fmt::format("timestamp '{}' is not a number", text::excerpt(fields[tc])));
      continue;
    }
    out.users.push_back(out.user_ids.intern(user));
    out.items.push_back(out.item_ids.intern(item));
    out.values.push_back(value);
    if (has_time) out.timestamps.push_back(time);
  }
}

// Rows from the parsed triplets: stable by file order, then each row sorted by item, then
// repeated (user, item) pairs merged by the rule.
void build_matrix(Parsed& parsed, DuplicateRule rule, int64_t users, int64_t items, Interactions& out) {
  const bool has_time = !parsed.timestamps.empty();
  const size_t n = parsed.users.size();
  Csr& m = out.user_items;
  m = Csr::empty(users, items);
  for (int32_t u : parsed.users) ++m.indptr[static_cast<size_t>(u) + 1];
  std::partial_sum(m.indptr.begin(), m.indptr.end(), m.indptr.begin());

  std::vector<int32_t> col(n);
  std::vector<float> val(n);
  std::vector<int64_t> ts(has_time ? n : 0);
  {
    std::vector<int64_t> next(m.indptr.begin(), m.indptr.end() - 1);
    for (size_t e = 0; e < n; ++e) {
      auto at = static_cast<size_t>(next[static_cast<size_t>(parsed.users[e])]++);
      col[at] = parsed.items[e];
      val[at] = parsed.values[e];
      if (has_time) ts[at] = parsed.timestamps[e];
    }
  }
  std::vector<int32_t>().swap(parsed.users);
  std::vector<int32_t>().swap(parsed.items);
  std::vector<float>().swap(parsed.values);
  std::vector<int64_t>().swap(parsed.timestamps);

  std::vector<std::pair<int32_t, int32_t>> order;  // (item, position in row)
  std::vector<float> val_tmp;
  std::vector<int64_t> ts_tmp;
  int64_t write = 0;
  int64_t merged_pairs = 0;
  for (int64_t r = 0; r < users; ++r) {
    const auto begin = static_cast<size_t>(m.indptr[r]);
    const auto end = static_cast<size_t>(m.indptr[r + 1]);
    if (!std::is_sorted(col.begin() + static_cast<ptrdiff_t>(begin), col.begin() + static_cast<ptrdiff_t>(end))) {
      // Sort by item; equal items keep file order, which "last" relies on.
      order.clear();
      for (size_t p = begin; p < end; ++p) order.emplace_back(col[p], static_cast<int32_t>(p - begin));
      std::sort(order.begin(), order.end());
      val_tmp.assign(val.begin() + static_cast<ptrdiff_t>(begin), val.begin() + static_cast<ptrdiff_t>(end));
      if (has_time) ts_tmp.assign(ts.begin() + static_cast<ptrdiff_t>(begin), ts.begin() + static_cast<ptrdiff_t>(end));
      for (size_t q = 0; q < order.size(); ++q) {
        col[begin + q] = order[q].first;
        val[begin + q] = val_tmp[static_cast<size_t>(order[q].second)];
        if (has_time) ts[begin + q] = ts_tmp[static_cast<size_t>(order[q].second)];
      }
    }
    m.indptr[r] = write;
    for (size_t p = begin; p < end;) {
      size_t q = p + 1;
      float v = val[p];
      int64_t t = has_time ? ts[p] : 0;
      for (; q < end && col[q] == col[p]; ++q) {
        switch (rule) {
          case DuplicateRule::sum:
            v += val[q];
            if (has_time) t = std::max(t, ts[q]);
            break;
          case DuplicateRule::max:
            // Strictly larger: among equal maxima the first in file order stays.
            if (val[q] > v) {
              v = val[q];
              if (has_time) t = ts[q];
            }
            break;
          case DuplicateRule::last:
            v = val[q];
            if (has_time) t = ts[q];
            break;
        }
      }
      if (q - p > 1) ++merged_pairs;
      auto w = static_cast<size_t>(write++);
      col[w] = col[p];
      val[w] = v;
      if (has_time) ts[w] = t;
      p = q;
    }
  }
  m.indptr[static_cast<size_t>(users)] = write;
  col.resize(static_cast<size_t>(write));
  val.resize(static_cast<size_t>(write));
  col.shrink_to_fit();
  val.shrink_to_fit();
  m.indices = std::move(col);
  m.values = std::move(val);
  if (has_time) {
    ts.resize(static_cast<size_t>(write));
    ts.shrink_to_fit();
    out.timestamps = std::move(ts);
  }
  out.duplicates_merged = merged_pairs;
}

}  // namespace

Interactions read_interactions(const std::string& path, const ReadOptions& options) {
  if (options.format == InputFormat::cache ||
      (options.format == InputFormat::auto_detect && is_cache_file(path))) {
    return read_cache(path);
  }
  text::LineReader reader(path);
  COHORT_CHECK_STATUS(!reader.head().empty(), Status::bad_input, "'{}' is empty: no interactions", path);
  COHORT_CHECK_STATUS(!text::looks_binary(reader.head()), Status::bad_input,
                      "'{}' looks binary, not a text interaction log", path);
  Layout layout = choose_layout(path, reader.head(), options);

  Parsed parsed;
  parse_lines(reader, path, layout, options.skip_bad_lines, parsed);
  COHORT_CHECK_STATUS(!parsed.users.empty(), Status::bad_input, "'{}' has no valid interaction lines ({} skipped)",
                      path, parsed.skipped);

  Interactions out;
  out.user_ids = parsed.user_ids.release();
  out.item_ids = parsed.item_ids.release();
  out.skipped_lines = parsed.skipped;
  const auto users = static_cast<int64_t>(out.user_ids.size());
  const auto items = static_cast<int64_t>(out.item_ids.size());
  COHORT_CHECK_STATUS(users >= 2 && items >= 2, Status::bad_input,
                      "'{}' has {} user(s) and {} item(s); at least 2 users and 2 items are needed", path, users,
                      items);
  build_matrix(parsed, options.duplicates, users, items, out);
  return out;
}

InputFormat parse_input_format(const std::string& name) {
  if (name == "auto") return InputFormat::auto_detect;
  if (name == "movielens") return InputFormat::movielens;
  if (name == "csv") return InputFormat::csv;
  if (name == "cache") return InputFormat::cache;
  COHORT_FAIL(Status::invalid_argument, "unknown input format '{}' (expected auto, movielens, csv or cache)", name);
}

DuplicateRule parse_duplicate_rule(const std::string& name) {
  if (name == "sum") return DuplicateRule::sum;
  if (name == "max") return DuplicateRule::max;
  if (name == "last") return DuplicateRule::last;
  COHORT_FAIL(Status::invalid_argument, "unknown duplicate rule '{}' (expected sum, max or last)", name);
}

}  // namespace cohort
