// Item metadata (titles, tags/genres) used to label groups, and known user groups (truth).
#pragma once

#include <string>
#include <vector>

namespace cohort {

// Aligned with the Interactions' item index; items absent from the file get an empty title.
struct ItemCatalog {
  std::vector<std::string> titles;
  std::vector<std::vector<std::string>> tags;
  bool empty() const { return titles.empty(); }
};

// Reads MovieLens u.item ('|', 19 genre flags), movies.dat ('::', genres split by '|'),
// movies.csv (movieId,title,genres with quoted titles) or a generic items.csv
// (id,title,tags with tags split by '|', header line "item_id,title,tags"), picked by content.
// item_ids: the Interactions' item ids; the file's other items are ignored. Malformed lines:
// Error(bad_input) with file and line; a file that names items but none of item_ids:
// Error(bad_input).
ItemCatalog read_item_catalog(const std::string& path, const std::vector<std::string>& item_ids);

// Reads "user_id,group" lines (header optional) into a group per user index; users missing
// from the file get -1, and its users missing from user_ids are ignored. Error(bad_input) for
// malformed lines, and for a file that lists no user or none of user_ids.
std::vector<int32_t> read_truth(const std::string& path, const std::vector<std::string>& user_ids);

}  // namespace cohort
