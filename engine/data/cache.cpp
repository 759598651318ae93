#include "engine/data/cache.hpp"

#include <climits>
#include <cmath>
#include <cstring>
#include <fstream>

#include "engine/io/binary_stream.hpp"
#include "kernels/error.hpp"

// The payload inside the frame of engine/io/binary_stream.hpp:
//   i64 rows, cols, skipped_lines, duplicates_merged
//   indptr (i64), indices (i32), values (f32), timestamps (i64; none when absent): each a u64 count, then the elements
//   user ids, item ids: each a u64 count, then a u64 length and the bytes of every id
namespace cohort {
namespace {

constexpr const char* kCacheKind = "cache";

// The checksum matched, but a cache written by a buggy program must not crash us either.
void check_read(const std::string& path, const Interactions& d) {
  const Csr& m = d.user_items;
  COHORT_CHECK_STATUS(m.rows >= 0 && m.rows < INT32_MAX && m.cols >= 0 && m.cols < INT32_MAX, Status::bad_input,
                      "{}: cache shape {} x {} out of range", path, m.rows, m.cols);
  COHORT_CHECK_STATUS(d.skipped_lines >= 0 && d.duplicates_merged >= 0, Status::bad_input,
                      "{}: cache counters out of range (skipped lines {}, duplicates merged {})", path, d.skipped_lines,
                      d.duplicates_merged);
  COHORT_CHECK_STATUS(m.indptr.size() == static_cast<size_t>(m.rows) + 1, Status::bad_input,
                      "{}: cache holds {} row pointers for {} rows", path, m.indptr.size(), m.rows);
  const auto nnz = static_cast<int64_t>(m.indices.size());
  COHORT_CHECK_STATUS(m.values.size() == m.indices.size(), Status::bad_input,
                      "{}: cache holds {} column indices but {} values", path, nnz, m.values.size());
  COHORT_CHECK_STATUS(d.timestamps.empty() || d.timestamps.size() == m.indices.size(), Status::bad_input,
                      "{}: cache holds {} timestamps for {} entries", path, d.timestamps.size(), nnz);
  COHORT_CHECK_STATUS(d.user_ids.size() == static_cast<size_t>(m.rows) && d.item_ids.size() == static_cast<size_t>(m.cols),
                      Status::bad_input, "{}: cache holds {} user ids for {} rows, {} item ids for {} columns", path,
                      d.user_ids.size(), m.rows, d.item_ids.size(), m.cols);
  COHORT_CHECK_STATUS(m.indptr.front() == 0 && m.indptr.back() == nnz, Status::bad_input,
                      "{}: cache row pointers span [{}, {}], expected [0, {}]", path, m.indptr.front(), m.indptr.back(),
                      nnz);
  for (int64_t row = 0; row < m.rows; ++row) {
    COHORT_CHECK_STATUS(m.indptr[row] <= m.indptr[row + 1], Status::bad_input,
                        "{}: cache row pointers decrease at row {}", path, row);
    for (int64_t p = m.indptr[row]; p < m.indptr[row + 1]; ++p) {
      COHORT_CHECK_STATUS(m.indices[p] >= 0 && m.indices[p] < m.cols, Status::bad_input,
                          "{}: cache column index {} in row {} outside [0, {})", path, m.indices[p], row, m.cols);
      COHORT_CHECK_STATUS(p == m.indptr[row] || m.indices[p - 1] < m.indices[p], Status::bad_input,
                          "{}: cache columns of row {} are not sorted and unique", path, row);
      COHORT_CHECK_STATUS(std::isfinite(m.values[p]), Status::bad_input, "{}: cache value in row {} is not finite",
                          path, row);
    }
  }
}

}  // namespace

void write_cache(const std::string& path, const Interactions& data) {
  const Csr& m = data.user_items;
  COHORT_CHECK(m.rows >= 0 && m.cols >= 0 && m.indptr.size() == static_cast<size_t>(m.rows + 1) &&
                   m.values.size() == m.indices.size() && m.indptr.back() == m.nnz(),
               "write_cache {}: inconsistent matrix ({} x {}, {} indptr, {} indices, {} values)", path, m.rows, m.cols,
               m.indptr.size(), m.indices.size(), m.values.size());
  COHORT_CHECK(data.user_ids.size() == static_cast<size_t>(m.rows) && data.item_ids.size() == static_cast<size_t>(m.cols),
               "write_cache {}: {} user ids for {} rows, {} item ids for {} columns", path, data.user_ids.size(), m.rows,
               data.item_ids.size(), m.cols);
  COHORT_CHECK(data.timestamps.empty() || data.timestamps.size() == m.indices.size(),
               "write_cache {}: {} timestamps for {} entries", path, data.timestamps.size(), m.nnz());
  binary::Writer w;
  w.pod<int64_t>(m.rows);
  w.pod<int64_t>(m.cols);
  w.pod<int64_t>(data.skipped_lines);
  w.pod<int64_t>(data.duplicates_merged);
  w.vector(m.indptr);
  w.vector(m.indices);
  w.vector(m.values);
  w.vector(data.timestamps);
  w.strings(data.user_ids);
  w.strings(data.item_ids);
  binary::write_framed_file(path, kCacheMagic, kCacheVersion, w.bytes());
}

bool is_cache_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[sizeof(kCacheMagic)];
  return in.read(magic, sizeof(magic)) && std::memcmp(magic, kCacheMagic, sizeof(magic)) == 0;
}

Interactions read_cache(const std::string& path) {
  const binary::FramedFile file = binary::read_framed_file(path, kCacheMagic, kCacheVersion, kCacheVersion, kCacheKind);
  binary::Reader r(file.payload(), path);
  Interactions out;
  Csr& m = out.user_items;
  m.rows = r.pod<int64_t>();
  m.cols = r.pod<int64_t>();
  out.skipped_lines = r.pod<int64_t>();
  out.duplicates_merged = r.pod<int64_t>();
  m.indptr = r.vector<int64_t>();
  m.indices = r.vector<int32_t>();
  m.values = r.vector<float>();
  out.timestamps = r.vector<int64_t>();
  out.user_ids = r.strings();
  out.item_ids = r.strings();
  r.expect_end();
  check_read(path, out);
  return out;
}

}  // namespace cohort
