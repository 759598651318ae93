// Users' interests read from the text of what they interacted with: each user's profile is the
// mean direction of its items' text vectors (ItemCatalog::text_vectors, a language model's
// embeddings of the items' text), so it lives in the text's space and needs no training.
#pragma once

#include "engine/data/csr.hpp"

namespace cohort {

// rows: users x items (the values are ignored: what a user touched counts, once); text_vectors:
// items x d with unit or zero rows. Returns users x d: the normalised sum of the vectors of each
// row's items, a zero row where none of them has text.
Matrix text_profiles(const Csr& rows, const Matrix& text_vectors);

}  // namespace cohort
