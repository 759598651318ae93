// Binary cache of prepared Interactions: parsed once, loaded fast.
// Layout: magic "COHORTDS", format version, payload sizes, the CSR, timestamps, id strings,
// and a 64-bit checksum (FNV-1a) of the payload. A foreign, truncated or corrupted file is
// rejected with Error(bad_input) naming the file and what was wrong.
#pragma once

#include <string>

#include "engine/data/interactions.hpp"

namespace cohort {

inline constexpr char kCacheMagic[8] = {'C', 'O', 'H', 'O', 'R', 'T', 'D', 'S'};
inline constexpr uint32_t kCacheVersion = 1;

// Written to a temporary name and renamed.
void write_cache(const std::string& path, const Interactions& data);
Interactions read_cache(const std::string& path);
// True when the file starts with the cache magic.
bool is_cache_file(const std::string& path);

}  // namespace cohort
