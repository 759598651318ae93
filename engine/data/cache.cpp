#include "engine/data/cache.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "kernels/error.hpp"

// File layout, little-endian:
//   magic "COHORTDS" | u32 version | u32 flags (bit 0: timestamps present)
//   i64 rows, cols, nnz, user_id_bytes, item_id_bytes, skipped_lines, duplicates_merged
//   payload: indptr (rows + 1) i64 | indices (nnz) i32 | values (nnz) f32 | timestamps (nnz) i64 if flagged
//            | user id lengths (rows) u32 | user id bytes | item id lengths (cols) u32 | item id bytes
//   u64 FNV-1a of every byte between the magic and the checksum.
static_assert(std::endian::native == std::endian::little, "the cache layout is written in host byte order");

namespace cohort {
namespace {

constexpr uint32_t kFlagTimestamps = 1;
constexpr int64_t kHeaderBytes = 8 + 4 + 4 + 7 * 8;
constexpr int64_t kChecksumBytes = 8;

struct Header {
  uint32_t version = kCacheVersion;
  uint32_t flags = 0;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t nnz = 0;
  int64_t user_id_bytes = 0;
  int64_t item_id_bytes = 0;
  int64_t skipped_lines = 0;
  int64_t duplicates_merged = 0;
};

// FNV-1a, 64-bit (http://www.isthe.com/chongo/tech/comp/fnv/).
class Fnv1a {
 public:
  void update(const void* data, size_t bytes) {
    const auto* p = static_cast<const unsigned char*>(data);
    uint64_t h = hash_;
    for (size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 1099511628211ULL;
    hash_ = h;
  }
  uint64_t value() const { return hash_; }

 private:
  uint64_t hash_ = 14695981039346656037ULL;
};

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

class Writer {
 public:
  Writer(std::FILE* file, const std::string& path) : file_(file), path_(path) {}
  void put(const void* data, size_t bytes, bool checksummed = true) {
    if (bytes == 0) return;
    if (std::fwrite(data, 1, bytes, file_) != bytes) {
      COHORT_FAIL(Status::io_error, "cannot write '{}': {}", path_, std::strerror(errno));
    }
    if (checksummed) checksum_.update(data, bytes);
  }
  template <class T>
  void put_value(const T& v) {
    put(&v, sizeof(T));
  }
  template <class T>
  void put_array(const std::vector<T>& v) {
    put(v.data(), v.size() * sizeof(T));
  }
  uint64_t checksum() const { return checksum_.value(); }

 private:
  std::FILE* file_;
  const std::string& path_;
  Fnv1a checksum_;
};

class Reader {
 public:
  Reader(std::FILE* file, const std::string& path) : file_(file), path_(path) {}
  void get(void* data, size_t bytes) {
    if (bytes == 0) return;
    if (std::fread(data, 1, bytes, file_) != bytes) {
      if (std::ferror(file_)) COHORT_FAIL(Status::io_error, "cannot read '{}': {}", path_, std::strerror(errno));
      COHORT_FAIL(Status::bad_input, "'{}': cache ends early (truncated)", path_);
    }
    checksum_.update(data, bytes);
  }
  template <class T>
  void get_value(T& v) {
    get(&v, sizeof(T));
  }
  template <class T>
  void get_array(std::vector<T>& v, int64_t count) {
    v.resize(static_cast<size_t>(count));
    get(v.data(), v.size() * sizeof(T));
  }
  uint64_t checksum() const { return checksum_.value(); }

 private:
  std::FILE* file_;
  const std::string& path_;
  Fnv1a checksum_;
};

void write_ids(Writer& w, const std::vector<std::string>& ids) {
  std::vector<uint32_t> lengths;
  lengths.reserve(ids.size());
  for (const auto& id : ids) lengths.push_back(static_cast<uint32_t>(id.size()));
  w.put_array(lengths);
  for (const auto& id : ids) w.put(id.data(), id.size());
}

int64_t id_bytes(const std::vector<std::string>& ids, const char* what) {
  int64_t total = 0;
  for (const auto& id : ids) {
    COHORT_CHECK(id.size() <= UINT32_MAX, "write_cache: a {} id of {} bytes is too long", what, id.size());
    total += static_cast<int64_t>(id.size());
  }
  return total;
}

void write_payload(std::FILE* file, const std::string& path, const Interactions& data, const Header& h) {
  Writer w(file, path);
  w.put(kCacheMagic, sizeof(kCacheMagic), false);
  w.put_value(h.version);
  w.put_value(h.flags);
  for (int64_t v : {h.rows, h.cols, h.nnz, h.user_id_bytes, h.item_id_bytes, h.skipped_lines, h.duplicates_merged}) {
    w.put_value(v);
  }
  const Csr& m = data.user_items;
  w.put_array(m.indptr);
  w.put_array(m.indices);
  w.put_array(m.values);
  if (h.flags & kFlagTimestamps) w.put_array(data.timestamps);
  write_ids(w, data.user_ids);
  write_ids(w, data.item_ids);
  uint64_t sum = w.checksum();
  w.put(&sum, sizeof(sum), false);
}

// Splits the concatenated id bytes by their lengths; the lengths must add up to the bytes.
std::vector<std::string> split_ids(const std::string& path, const std::vector<uint32_t>& lengths,
                                   const std::string& bytes, const char* what) {
  std::vector<std::string> ids;
  ids.reserve(lengths.size());
  size_t at = 0;
  for (uint32_t len : lengths) {
    COHORT_CHECK_STATUS(len <= bytes.size() - at, Status::bad_input,
                        "'{}': cache {} id lengths exceed their {} bytes", path, what, bytes.size());
    ids.emplace_back(bytes, at, len);
    at += len;
  }
  COHORT_CHECK_STATUS(at == bytes.size(), Status::bad_input, "'{}': cache {} id lengths add to {} of {} bytes",
                      path, what, at, bytes.size());
  return ids;
}

}  // namespace

void write_cache(const std::string& path, const Interactions& data) {
  const Csr& m = data.user_items;
  COHORT_CHECK(m.rows >= 0 && m.cols >= 0 && m.indptr.size() == static_cast<size_t>(m.rows + 1) &&
                   m.values.size() == m.indices.size() && m.indptr.back() == m.nnz(),
               "write_cache '{}': inconsistent matrix ({} x {}, {} indptr, {} indices, {} values)", path, m.rows,
               m.cols, m.indptr.size(), m.indices.size(), m.values.size());
  COHORT_CHECK(data.user_ids.size() == static_cast<size_t>(m.rows) && data.item_ids.size() == static_cast<size_t>(m.cols),
               "write_cache '{}': {} user ids for {} rows, {} item ids for {} columns", path, data.user_ids.size(),
               m.rows, data.item_ids.size(), m.cols);
  COHORT_CHECK(data.timestamps.empty() || data.timestamps.size() == m.indices.size(),
               "write_cache '{}': {} timestamps for {} entries", path, data.timestamps.size(), m.nnz());
  Header h;
  h.flags = data.has_timestamps() ? kFlagTimestamps : 0;
  h.rows = m.rows;
  h.cols = m.cols;
  h.nnz = m.nnz();
  h.user_id_bytes = id_bytes(data.user_ids, "user");
  h.item_id_bytes = id_bytes(data.item_ids, "item");
  h.skipped_lines = data.skipped_lines;
  h.duplicates_merged = data.duplicates_merged;

  // A reader never sees a half-written cache: write a temporary, then rename it over path.
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  std::FILE* file = std::fopen(temp.c_str(), "wb");
  if (file == nullptr) COHORT_FAIL(Status::io_error, "cannot write '{}': {}", temp, std::strerror(errno));
  try {
    write_payload(file, temp, data, h);
  } catch (...) {
    std::fclose(file);
    std::remove(temp.c_str());
    throw;
  }
  if (std::fclose(file) != 0) {
    int err = errno;
    std::remove(temp.c_str());
    COHORT_FAIL(Status::io_error, "cannot write '{}': {}", temp, std::strerror(err));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    std::remove(temp.c_str());
    COHORT_FAIL(Status::io_error, "cannot rename '{}' to '{}': {}", temp, path, std::strerror(err));
  }
}

bool is_cache_file(const std::string& path) {
  File file(std::fopen(path.c_str(), "rb"));
  if (!file) return false;
  char magic[sizeof(kCacheMagic)];
  return std::fread(magic, 1, sizeof(magic), file.get()) == sizeof(magic) &&
         std::memcmp(magic, kCacheMagic, sizeof(magic)) == 0;
}

Interactions read_cache(const std::string& path) {
  File file(std::fopen(path.c_str(), "rb"));
  if (!file) COHORT_FAIL(Status::io_error, "cannot open '{}': {}", path, std::strerror(errno));
  struct stat info {};
  if (fstat(fileno(file.get()), &info) != 0 || S_ISDIR(info.st_mode)) {
    COHORT_FAIL(Status::io_error, "cannot open '{}': {}", path, std::strerror(S_ISDIR(info.st_mode) ? EISDIR : errno));
  }
  const auto size = static_cast<int64_t>(info.st_size);
  COHORT_CHECK_STATUS(size >= kHeaderBytes + kChecksumBytes, Status::bad_input,
                      "'{}' is not a cohort cache: {} bytes, shorter than a cache header", path, size);
  char magic[sizeof(kCacheMagic)];
  COHORT_CHECK_STATUS(std::fread(magic, 1, sizeof(magic), file.get()) == sizeof(magic) &&
                          std::memcmp(magic, kCacheMagic, sizeof(magic)) == 0,
                      Status::bad_input, "'{}' is not a cohort cache (no COHORTDS magic)", path);
  Reader r(file.get(), path);
  Header h;
  r.get_value(h.version);
  r.get_value(h.flags);
  for (int64_t* v : {&h.rows, &h.cols, &h.nnz, &h.user_id_bytes, &h.item_id_bytes, &h.skipped_lines,
                     &h.duplicates_merged}) {
    r.get_value(*v);
  }
  COHORT_CHECK_STATUS(h.version == kCacheVersion, Status::bad_input,
                      "'{}': cache format version {}, this build reads version {}", path, h.version, kCacheVersion);
  COHORT_CHECK_STATUS((h.flags & ~kFlagTimestamps) == 0, Status::bad_input, "'{}': unknown cache flags {:#x}", path,
                      h.flags);
  // Every element takes at least one byte, so sizes beyond the file length are damage; the
  // bound also keeps the size arithmetic below from overflowing.
  for (int64_t v : {h.rows, h.cols, h.nnz, h.user_id_bytes, h.item_id_bytes}) {
    COHORT_CHECK_STATUS(v >= 0 && v <= size, Status::bad_input,
                        "'{}': cache header sizes (rows {}, cols {}, nnz {}) do not fit a {}-byte file", path, h.rows,
                        h.cols, h.nnz, size);
  }
  COHORT_CHECK_STATUS(h.rows < INT32_MAX && h.cols < INT32_MAX && h.skipped_lines >= 0 && h.duplicates_merged >= 0,
                      Status::bad_input, "'{}': cache header out of range (rows {}, cols {})", path, h.rows, h.cols);
  const bool has_time = (h.flags & kFlagTimestamps) != 0;
  const int64_t expected = kHeaderBytes + 8 * (h.rows + 1) + h.nnz * (4 + 4 + (has_time ? 8 : 0)) + 4 * h.rows +
                           h.user_id_bytes + 4 * h.cols + h.item_id_bytes + kChecksumBytes;
  COHORT_CHECK_STATUS(expected == size, Status::bad_input,
                      "'{}': cache is {} bytes but its header describes {} bytes ({})", path, size, expected,
                      size < expected ? "truncated" : "trailing bytes");

  Interactions out;
  Csr& m = out.user_items;
  m.rows = h.rows;
  m.cols = h.cols;
  r.get_array(m.indptr, h.rows + 1);
  r.get_array(m.indices, h.nnz);
  r.get_array(m.values, h.nnz);
  if (has_time) r.get_array(out.timestamps, h.nnz);
  std::vector<uint32_t> user_lengths;
  std::vector<uint32_t> item_lengths;
  std::string user_bytes(static_cast<size_t>(h.user_id_bytes), '\0');
  std::string item_bytes(static_cast<size_t>(h.item_id_bytes), '\0');
  r.get_array(user_lengths, h.rows);
  r.get(user_bytes.data(), user_bytes.size());
  r.get_array(item_lengths, h.cols);
  r.get(item_bytes.data(), item_bytes.size());
  uint64_t computed = r.checksum();
  uint64_t stored = 0;
  COHORT_CHECK_STATUS(std::fread(&stored, 1, sizeof(stored), file.get()) == sizeof(stored), Status::bad_input,
                      "'{}': cache ends before its checksum", path);
  COHORT_CHECK_STATUS(stored == computed, Status::bad_input,
                      "'{}': cache checksum mismatch (stored {:016x}, computed {:016x}): the file is corrupted", path,
                      stored, computed);

  // The checksum matched, but a cache written by a buggy program must not crash us either.
  COHORT_CHECK_STATUS(m.indptr[0] == 0 && m.indptr[static_cast<size_t>(h.rows)] == h.nnz, Status::bad_input,
                      "'{}': cache row pointers span [{}, {}], expected [0, {}]", path, m.indptr[0],
                      m.indptr[static_cast<size_t>(h.rows)], h.nnz);
  for (int64_t row = 0; row < h.rows; ++row) {
    COHORT_CHECK_STATUS(m.indptr[row] <= m.indptr[row + 1], Status::bad_input,
                        "'{}': cache row pointers decrease at row {}", path, row);
    for (int64_t p = m.indptr[row]; p < m.indptr[row + 1]; ++p) {
      COHORT_CHECK_STATUS(m.indices[p] >= 0 && m.indices[p] < h.cols, Status::bad_input,
                          "'{}': cache column index {} in row {} outside [0, {})", path, m.indices[p], row, h.cols);
      COHORT_CHECK_STATUS(p == m.indptr[row] || m.indices[p - 1] < m.indices[p], Status::bad_input,
                          "'{}': cache columns of row {} are not sorted and unique", path, row);
      COHORT_CHECK_STATUS(std::isfinite(m.values[p]), Status::bad_input, "'{}': cache value in row {} is not finite",
                          path, row);
    }
  }
  out.user_ids = split_ids(path, user_lengths, user_bytes, "user");
  out.item_ids = split_ids(path, item_lengths, item_bytes, "item");
  out.skipped_lines = h.skipped_lines;
  out.duplicates_merged = h.duplicates_merged;
  return out;
}

}  // namespace cohort
