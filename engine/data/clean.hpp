// Cleaning and weighting of Interactions.
#pragma once

#include <string>

#include "engine/data/interactions.hpp"

namespace cohort {

// Iteratively drops users with fewer than min_user_count interactions and items with fewer
// than min_item_count until both hold; ids and timestamps follow. Error(bad_input) when
// fewer than 2 users or 2 items remain, naming the thresholds.
Interactions filter_min_counts(const Interactions& in, int min_user_count, int min_item_count);

// Value transforms, each returning a new matrix of the same pattern.
// value >= threshold -> 1, otherwise the entry is dropped.
Csr binarize(const Csr& m, float threshold);
enum class ConfidenceScale { linear, log };
// iALS confidence: linear 1 + alpha * r; log 1 + alpha * log(1 + r / epsilon) (Hu et al. 2008).
Csr confidence(const Csr& m, float alpha, ConfidenceScale scale, float epsilon = 1.0f);
// BM25 weighting of a users x items matrix, item frequency across users
// (as in implicit's bm25_weight): w = r * (k1 + 1) / (k1 * (1 - b + b * len_u / avg_len) + r) * idf_i.
Csr bm25_weight(const Csr& m, float k1 = 1.2f, float b = 0.75f);
// TF-IDF: w = r * log(users / (1 + df_i)), df_i = users having item i.
Csr tfidf_weight(const Csr& m);

// The weighting applied before item-item cosine similarity.
enum class Weighting { none, bm25, tfidf };
Weighting parse_weighting(const std::string& name);  // "none" | "bm25" | "tfidf"
Csr apply_weighting(const Csr& m, Weighting weighting);

}  // namespace cohort
