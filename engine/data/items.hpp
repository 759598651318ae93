// Item metadata (titles, tags/genres) used to label groups, item text vectors (embeddings of
// the items' text by a pretrained language model), and known user groups (truth).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/data/csr.hpp"

namespace cohort {

// Aligned with the Interactions' item index; items absent from the file get an empty title.
struct ItemCatalog {
  std::vector<std::string> titles;
  std::vector<std::vector<std::string>> tags;
  bool empty() const { return titles.empty(); }

  // Items x d text vectors, unit rows; zero rows for items without one. Empty when none given.
  Matrix text_vectors;
  int64_t items_with_text = 0;
  bool has_text() const { return text_vectors.rows > 0 && text_vectors.cols > 0; }
};

// Reads MovieLens u.item ('|', 19 genre flags), movies.dat ('::', genres split by '|'),
// movies.csv (movieId,title,genres with quoted titles) or a generic items.csv
// (id,title,tags with tags split by '|', header line "item_id,title,tags"), picked by content.
// item_ids: the Interactions' item ids; the file's other items are ignored. Malformed lines:
// Error(bad_input) with file and line; a file that names items but none of item_ids:
// Error(bad_input).
ItemCatalog read_item_catalog(const std::string& path, const std::vector<std::string>& item_ids);

// Reads item text vectors into catalog.text_vectors (aligned with item_ids, each row scaled to
// unit length): lines "item_id,v1,...,vd" (',' or tab between fields; a first line whose second
// field is not a number is a header), d the same on every line, 1 <= d <= 4096. What a language
// model gives for an item's title, description or text, e.g. from Python:
//   for id, v in zip(ids, model.encode(texts)): f.write(id + "," + ",".join(map(str, v)) + "\n")
// Items missing from the file get zero rows (no text); the file's items missing from item_ids
// are ignored. Error(bad_input) naming the file and line for a malformed line, a value that is
// not a finite number, a dimension that differs from the first line's, an item listed twice or
// an all-zero vector; and for a file that lists none of item_ids.
void read_item_text_vectors(const std::string& path, const std::vector<std::string>& item_ids, ItemCatalog& catalog);

// Sets catalog.text_vectors from items x d values given in memory (the C API): each non-zero
// row scaled to unit length, zero rows meaning no text. Error(invalid_argument) naming the row
// and column of a value that is not finite, and for d outside 1..4096.
void set_item_text_vectors(Matrix vectors, ItemCatalog& catalog);

// Reads "user_id,group" lines (header optional) into a group per user index; users missing
// from the file get -1, and its users missing from user_ids are ignored. Error(bad_input) for
// malformed lines, and for a file that lists no user or none of user_ids.
std::vector<int32_t> read_truth(const std::string& path, const std::vector<std::string>& user_ids);

}  // namespace cohort
