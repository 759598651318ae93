// Binary cache of prepared Interactions: parsed once, loaded fast.
// Framed like the model file (engine/io/binary_stream.hpp): magic "COHORTDS", format version,
// payload size, the payload (the CSR, timestamps, id strings, counters) and its FNV-1a 64
// checksum. A foreign, truncated or corrupted file is rejected with Error(bad_input) naming
// the file and what was wrong.
#pragma once

#include <string>

#include "engine/data/interactions.hpp"

namespace cohort {

inline constexpr char kCacheMagic[8] = {'C', 'O', 'H', 'O', 'R', 'T', 'D', 'S'};
// 2: moved onto the shared binary frame and its length-prefixed arrays and strings.
inline constexpr uint32_t kCacheVersion = 2;

// Written to a temporary name and renamed.
void write_cache(const std::string& path, const Interactions& data);
Interactions read_cache(const std::string& path);
// True when the file starts with the cache magic.
bool is_cache_file(const std::string& path);

}  // namespace cohort
