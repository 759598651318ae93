#include "engine/data/items.hpp"

#include <array>
#include <cctype>
#include <cmath>
#include <unordered_map>

#include <fmt/format.h>

#include "engine/data/text.hpp"
#include "kernels/error.hpp"

namespace cohort {
namespace {

// The 19 genre flags of MovieLens 100K u.item, in file order.
constexpr std::array<const char*, 19> kItemGenres = {
    "unknown", "Action",    "Adventure", "Animation", "Children's", "Comedy",  "Crime",
    "Documentary", "Drama", "Fantasy",   "Film-Noir", "Horror",     "Musical", "Mystery",
    "Romance", "Sci-Fi",    "Thriller",  "War",       "Western"};
constexpr size_t kItemFields = 5 + kItemGenres.size();

enum class CatalogFormat { u_item, movies_dat, movies_csv, items_csv };

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::unordered_map<std::string_view, int32_t> index_of(const std::vector<std::string>& ids) {
  std::unordered_map<std::string_view, int32_t> index;
  index.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) index.emplace(ids[i], static_cast<int32_t>(i));
  return index;
}

// Opens a small text file and returns its first non-blank line for sniffing; the reader is
// left at the start.
std::string_view sniff(text::LineReader& reader, const std::string& path, const char* what) {
  const std::string& head = reader.head();
  COHORT_CHECK_STATUS(!head.empty(), Status::bad_input, "'{}' is empty: no {}", path, what);
  COHORT_CHECK_STATUS(!text::looks_binary(head), Status::bad_input, "'{}' looks binary, not a text {} file", path,
                      what);
  std::string_view rest = head;
  while (!rest.empty()) {
    size_t end = rest.find('\n');
    std::string_view line = text::trim(rest.substr(0, end));
    if (!line.empty()) return line;
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  return {};
}

CatalogFormat detect_catalog(const std::string& path, std::string_view first) {
  std::string header = lower(first);
  if (header == "movieid,title,genres") return CatalogFormat::movies_csv;
  if (header == "item_id,title,tags") return CatalogFormat::items_csv;
  if (first.find("::") != std::string_view::npos) return CatalogFormat::movies_dat;
  std::vector<std::string_view> fields;
  std::string scratch;
  text::split_fields(first, "|", false, fields, scratch);
  if (fields.size() == kItemFields) return CatalogFormat::u_item;
  COHORT_FAIL(Status::bad_input,
              "'{}' is not a recognised item file: expected u.item (id|title|...|19 genre flags), movies.dat "
              "(id::title::genres), movies.csv (header movieId,title,genres) or items.csv (header item_id,title,tags); "
              "first line: '{}'",
              path, text::excerpt(first));
}

// Titles are UTF-8 where they already are; anything else is taken as Latin-1 (older MovieLens).
std::string to_utf8(std::string_view s) { return text::is_valid_utf8(s) ? std::string(s) : text::latin1_to_utf8(s); }

std::vector<std::string> split_tags(std::string_view s) {
  std::vector<std::string> tags;
  size_t pos = 0;
  for (;;) {
    size_t end = s.find('|', pos);
    std::string_view tag = text::trim(s.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos));
    if (!tag.empty() && tag != "(no genres listed)") tags.push_back(to_utf8(tag));
    if (end == std::string_view::npos) return tags;
    pos = end + 1;
  }
}

// How many of a side file's ids the interaction data knows. A file that names ids but none of
// the data's (spelled otherwise: "1" for "u00001") would pass silently and leave every group
// unexplained or every user without a known group: require() refuses it.
class IdMatches {
 public:
  void add(std::string_view id, bool known) {
    ++listed_;
    known_ += known;
    if (!known && first_unknown_.empty()) first_unknown_ = text::excerpt(id);
  }
  int64_t listed() const { return listed_; }
  void require(const std::string& path, const char* what) const {
    COHORT_CHECK_STATUS(listed_ == 0 || known_ > 0, Status::bad_input,
                        "'{}': none of its {} {} is in the interaction data (the first is '{}'); ids must be "
                        "spelled as in the interactions",
                        path, listed_, what, first_unknown_);
  }

 private:
  int64_t listed_ = 0;
  int64_t known_ = 0;
  std::string first_unknown_;
};

// Calls body(fields, bad) for each non-blank line of `reader`, split on `delimiter` (quoted
// fields allowed); bad(what) throws Error(bad_input) naming the file, the line and its text.
template <class Body>
void for_each_record(text::LineReader& reader, const std::string& path, std::string_view delimiter, Body body) {
  std::vector<std::string_view> fields;
  std::string scratch;
  std::string_view line;
  while (reader.next(line)) {
    if (text::trim(line).empty()) continue;
    auto bad = [&](const std::string& what) { text::fail_line(path, reader.line_number(), what, line); };
    if (!text::split_fields(line, delimiter, true, fields, scratch)) bad("unterminated quote or text after a closing quote");
    body(fields, bad);
  }
}

}  // namespace

ItemCatalog read_item_catalog(const std::string& path, const std::vector<std::string>& item_ids) {
  text::LineReader reader(path);
  const CatalogFormat format = detect_catalog(path, sniff(reader, path, "item"));
  const auto index = index_of(item_ids);
  ItemCatalog catalog;
  catalog.titles.resize(item_ids.size());
  catalog.tags.resize(item_ids.size());

  bool header_pending = format == CatalogFormat::movies_csv || format == CatalogFormat::items_csv;
  IdMatches matches;
  std::vector<std::string_view> fields;
  std::string scratch;
  std::string_view line;
  while (reader.next(line)) {
    if (text::trim(line).empty()) continue;
    if (header_pending) {
      header_pending = false;
      continue;
    }
    auto bad = [&](const std::string& what) { text::fail_line(path, reader.line_number(), what, line); };
    std::string_view id;
    std::string title;
    std::vector<std::string> tags;
    switch (format) {
      case CatalogFormat::u_item: {
        text::split_fields(line, "|", false, fields, scratch);
        if (fields.size() != kItemFields) bad(fmt::format("expected {} fields, found {}", kItemFields, fields.size()));
        id = fields[0];
        title = text::latin1_to_utf8(fields[1]);
        for (size_t g = 0; g < kItemGenres.size(); ++g) {
          std::string_view flag = fields[5 + g];
          if (flag != "0" && flag != "1") bad(fmt::format("genre flag '{}' is not 0 or 1", text::excerpt(flag)));
          if (flag == "1") tags.emplace_back(kItemGenres[g]);
        }
        break;
      }
      case CatalogFormat::movies_dat: {
        // id::title::genres; a title may itself hold "::", so split at the first and last.
        size_t first = line.find("::");
        size_t last = line.rfind("::");
        if (first == std::string_view::npos || first == last) bad("expected id::title::genres");
        id = text::trim(line.substr(0, first));
        title = to_utf8(text::trim(line.substr(first + 2, last - first - 2)));
        tags = split_tags(line.substr(last + 2));
        break;
      }
      case CatalogFormat::movies_csv:
      case CatalogFormat::items_csv: {
        if (!text::split_fields(line, ",", true, fields, scratch)) bad("unterminated quote or text after a closing quote");
        if (fields.size() != 3) bad(fmt::format("expected 3 fields (id,title,tags), found {}", fields.size()));
        id = fields[0];
        title = to_utf8(fields[1]);
        tags = split_tags(fields[2]);
        break;
      }
    }
    if (id.empty()) bad("empty item id");
    auto it = index.find(id);
    matches.add(id, it != index.end());
    if (it == index.end()) continue;
    catalog.titles[static_cast<size_t>(it->second)] = std::move(title);
    catalog.tags[static_cast<size_t>(it->second)] = std::move(tags);
  }
  matches.require(path, "items");
  return catalog;
}

constexpr int64_t kMaxTextDims = 4096;

void set_item_text_vectors(Matrix vectors, ItemCatalog& catalog) {
  COHORT_CHECK(vectors.cols >= 1 && vectors.cols <= kMaxTextDims,
               "item text vectors have {} dimensions, expected 1..{}", vectors.cols, kMaxTextDims);
  COHORT_CHECK(static_cast<int64_t>(vectors.data.size()) == vectors.rows * vectors.cols,
               "item text vectors: {} values for {} x {}", vectors.data.size(), vectors.rows, vectors.cols);
  int64_t with_text = 0;
  for (int64_t i = 0; i < vectors.rows; ++i) {
    float* row = vectors.row(i);
    double norm = 0.0;
    for (int64_t j = 0; j < vectors.cols; ++j) {
      COHORT_CHECK(std::isfinite(row[j]), "item text vector {} has value {} at dimension {}", i, row[j], j);
      norm += static_cast<double>(row[j]) * row[j];
    }
    COHORT_CHECK(std::isfinite(norm), "item text vector {} overflows when squared", i);
    if (norm == 0.0) continue;
    ++with_text;
    const auto scale = static_cast<float>(1.0 / std::sqrt(norm));
    for (int64_t j = 0; j < vectors.cols; ++j) row[j] *= scale;
  }
  catalog.text_vectors = std::move(vectors);
  catalog.items_with_text = with_text;
}

void read_item_text_vectors(const std::string& path, const std::vector<std::string>& item_ids, ItemCatalog& catalog) {
  text::LineReader reader(path);
  const std::string_view first_line = sniff(reader, path, "item text vector");
  const std::string_view delimiter = first_line.find('\t') != std::string_view::npos ? "\t" : ",";
  const auto index = index_of(item_ids);
  std::vector<int64_t> line_of(item_ids.size(), 0);  // where each item's vector was read; 0 = not yet
  Matrix vectors;
  IdMatches matches;
  int64_t dims = 0;
  bool first = true;
  for_each_record(reader, path, delimiter, [&](const std::vector<std::string_view>& fields, const auto& bad) {
    if (fields.size() < 2) bad("expected item_id and at least one number");
    float probe = 0.0f;
    const bool header = first && !text::parse_float(fields[1], probe);
    first = false;
    if (header) return;
    const int64_t d = static_cast<int64_t>(fields.size()) - 1;
    if (dims == 0) {
      if (d > kMaxTextDims) bad(fmt::format("{} numbers; at most {} dimensions are supported", d, kMaxTextDims));
      dims = d;
      vectors = Matrix(static_cast<int64_t>(item_ids.size()), static_cast<int>(dims));
    }
    if (d != dims) bad(fmt::format("{} numbers where the first vector has {}", d, dims));
    if (fields[0].empty()) bad("empty item id");
    auto it = index.find(fields[0]);
    matches.add(fields[0], it != index.end());
    if (it == index.end()) return;
    const auto item = static_cast<size_t>(it->second);
    if (line_of[item] != 0) bad(fmt::format("item '{}' was given a vector on line {}", fields[0], line_of[item]));
    line_of[item] = reader.line_number();
    float* row = vectors.row(it->second);
    double norm = 0.0;
    for (int64_t j = 0; j < dims; ++j) {
      const std::string_view field = fields[static_cast<size_t>(j + 1)];
      if (!text::parse_float(field, row[j])) bad(fmt::format("value {} '{}' is not a finite number", j + 1, text::excerpt(field)));
      norm += static_cast<double>(row[j]) * row[j];
    }
    if (!(norm > 0.0) || !std::isfinite(norm))
      bad(fmt::format("the vector of item '{}' has no direction (all zeros) or overflows", fields[0]));
  });
  COHORT_CHECK_STATUS(matches.listed() > 0, Status::bad_input,
                      "'{}' lists no item vectors (expected item_id,v1,...,vd lines)", path);
  matches.require(path, "items");
  set_item_text_vectors(std::move(vectors), catalog);  // unit rows; the items read are its non-zero rows
}

std::vector<int32_t> read_truth(const std::string& path, const std::vector<std::string>& user_ids) {
  text::LineReader reader(path);
  sniff(reader, path, "truth");
  const auto index = index_of(user_ids);
  std::vector<int32_t> groups(user_ids.size(), -1);
  IdMatches matches;
  bool first = true;
  for_each_record(reader, path, ",", [&](const std::vector<std::string_view>& fields, const auto& bad) {
    if (fields.size() != 2) bad(fmt::format("expected 2 fields (user_id,group), found {}", fields.size()));
    int32_t group = 0;
    const bool numeric = text::parse_int32(fields[1], group);
    // An optional header: a first line whose group is not a number.
    const bool header = first && !numeric;
    first = false;
    if (header) return;
    if (fields[0].empty()) bad("empty user id");
    if (!numeric || group < 0) bad(fmt::format("group '{}' is not a non-negative integer", text::excerpt(fields[1])));
    auto it = index.find(fields[0]);
    matches.add(fields[0], it != index.end());
    if (it == index.end()) return;
    int32_t& slot = groups[static_cast<size_t>(it->second)];
    if (slot >= 0 && slot != group) bad(fmt::format("user '{}' was given group {} earlier", fields[0], slot));
    slot = group;
  });
  // ARI against no known group would read as a perfect match: refuse an empty file too.
  COHORT_CHECK_STATUS(matches.listed() > 0, Status::bad_input, "'{}' lists no users (expected user_id,group lines)",
                      path);
  matches.require(path, "users");
  return groups;
}

}  // namespace cohort
