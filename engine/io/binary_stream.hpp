// Binary serialisation shared by the engine's own file formats (model file, data cache):
// a byte-buffer writer, a bounds-checked reader, and the framing every such file uses:
//   magic (8 bytes) | version (u32) | payload size (u64) | payload | FNV-1a 64 of the payload (u64)
// Values are stored in the host's byte order, which must be little-endian.
#pragma once

#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "engine/data/csr.hpp"
#include "engine/io/files.hpp"
#include "kernels/error.hpp"

namespace cohort::binary {

static_assert(std::endian::native == std::endian::little, "cohort's binary files assume a little-endian host");

inline constexpr size_t kFrameHeaderBytes = 8 + sizeof(uint32_t) + sizeof(uint64_t);
inline constexpr size_t kFrameTrailerBytes = sizeof(uint64_t);

// FNV-1a, 64-bit: h = (h xor byte) * prime over every byte.
inline uint64_t fnv1a64(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// Appends values to an in-memory payload.
class Writer {
 public:
  template <class T>
  void pod(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    raw(&value, sizeof(T));
  }
  // Element count (u64), then the elements.
  template <class T>
  void vector(const std::vector<T>& values) {
    static_assert(std::is_trivially_copyable_v<T> && !std::is_same_v<T, bool>);
    pod<uint64_t>(values.size());
    raw(values.data(), values.size() * sizeof(T));
  }
  // Count (u64), then each string as length (u64) and bytes.
  void strings(const std::vector<std::string>& values) {
    pod<uint64_t>(values.size());
    for (const auto& s : values) {
      pod<uint64_t>(s.size());
      raw(s.data(), s.size());
    }
  }
  // rows (i64), cols (i64), rows * cols floats.
  void matrix(const Matrix& m) {
    COHORT_CHECK(m.data.size() == static_cast<size_t>(m.rows * m.cols), "binary::Writer: matrix {} x {} holds {} values",
                 m.rows, m.cols, m.data.size());
    pod<int64_t>(m.rows);
    pod<int64_t>(m.cols);
    raw(m.data.data(), m.data.size() * sizeof(float));
  }
  const std::string& bytes() const { return bytes_; }

 private:
  void raw(const void* data, size_t n) {
    if (n > 0) bytes_.append(static_cast<const char*>(data), n);
  }
  std::string bytes_;
};

// Reads values back from a payload; running past its end, or a size that cannot fit in
// what is left, is Error(bad_input) naming `source`.
class Reader {
 public:
  Reader(std::string_view bytes, std::string source) : bytes_(bytes), source_(std::move(source)) {}

  template <class T>
  T pod() {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    raw(&value, sizeof(T));
    return value;
  }
  template <class T>
  std::vector<T> vector() {
    static_assert(std::is_trivially_copyable_v<T> && !std::is_same_v<T, bool>);
    const uint64_t n = count(sizeof(T));
    std::vector<T> values(static_cast<size_t>(n));
    raw(values.data(), values.size() * sizeof(T));
    return values;
  }
  std::vector<std::string> strings() {
    const uint64_t n = count(sizeof(uint64_t));
    std::vector<std::string> values(static_cast<size_t>(n));
    for (auto& s : values) {
      s.resize(static_cast<size_t>(count(1)));
      raw(s.data(), s.size());
    }
    return values;
  }
  Matrix matrix() {
    const auto rows = pod<int64_t>();
    const auto cols = pod<int64_t>();
    if (rows < 0 || cols < 0 || (cols > 0 && static_cast<uint64_t>(rows) > remaining() / sizeof(float) / cols)) {
      fail("matrix of " + std::to_string(rows) + " x " + std::to_string(cols) + " does not fit in the file");
    }
    Matrix m(rows, cols);
    raw(m.data.data(), m.data.size() * sizeof(float));
    return m;
  }
  size_t remaining() const { return bytes_.size() - at_; }
  void expect_end() const {
    if (at_ != bytes_.size()) fail(std::to_string(remaining()) + " unexpected trailing bytes");
  }
  [[noreturn]] void fail(const std::string& what) const {
    COHORT_FAIL(Status::bad_input, "{}: corrupted file: {} (at payload byte {})", source_, what, at_);
  }

 private:
  // A u64 count of items of at least `item_bytes` each, checked against what is left.
  uint64_t count(size_t item_bytes) {
    const auto n = pod<uint64_t>();
    if (n > remaining() / item_bytes) fail("a count of " + std::to_string(n) + " does not fit in the file");
    return n;
  }
  void raw(void* data, size_t n) {
    if (n > remaining()) fail("truncated: needs " + std::to_string(n) + " more bytes, " + std::to_string(remaining()) + " left");
    if (n > 0) std::memcpy(data, bytes_.data() + at_, n);
    at_ += n;
  }
  std::string_view bytes_;
  size_t at_ = 0;
  std::string source_;
};

// Writes magic, version, payload and checksum to path, atomically.
inline void write_framed_file(const std::string& path, const char (&magic)[8], uint32_t version,
                              const std::string& payload) {
  Writer head;
  head.pod(version);
  head.pod<uint64_t>(payload.size());
  const uint64_t checksum = fnv1a64(payload);
  write_file_atomically(path, [&](std::ostream& out) {
    out.write(magic, 8);
    out.write(head.bytes().data(), static_cast<std::streamsize>(head.bytes().size()));
    out.write(payload.data(), static_cast<std::streamsize>(payload.size()));
    out.write(reinterpret_cast<const char*>(&checksum), sizeof(checksum));
  });
}

// A framed file read whole; payload() is the checked payload.
struct FramedFile {
  std::string bytes;
  uint32_t version = 0;
  std::string_view payload() const {
    return std::string_view(bytes).substr(kFrameHeaderBytes, bytes.size() - kFrameHeaderBytes - kFrameTrailerBytes);
  }
};

// Reads path and checks magic, version (oldest..newest: the versions the caller reads),
// payload size and checksum.
// `kind` names the format in messages ("model file", "cache"); the magic check calls it
// "cohort <kind>". Error(io_error) when the file cannot be read; Error(bad_input) naming the
// file and the fault otherwise.
inline FramedFile read_framed_file(const std::string& path, const char (&magic)[8], uint32_t oldest,
                                   uint32_t newest, const char* kind) {
  std::error_code ec;
  COHORT_CHECK_STATUS(!std::filesystem::is_directory(path, ec), Status::io_error, "{}: cannot open {}: {}", path, kind,
                      std::strerror(EISDIR));
  errno = 0;
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  COHORT_CHECK_STATUS(in.good(), Status::io_error, "{}: cannot open {}: {}", path, kind,
                      errno != 0 ? std::strerror(errno) : "unknown error");
  // Sized from the file so the bytes are read once, into their final buffer.
  const std::streamoff size = in.tellg();
  COHORT_CHECK_STATUS(size >= 0, Status::io_error, "{}: cannot size {}", path, kind);
  FramedFile file;
  file.bytes.resize(static_cast<size_t>(size));
  in.seekg(0);
  in.read(file.bytes.data(), size);
  COHORT_CHECK_STATUS(in.gcount() == size, Status::io_error, "{}: reading {} failed after {} of {} bytes", path, kind,
                      in.gcount(), size);
  const std::string& b = file.bytes;
  COHORT_CHECK_STATUS(b.size() >= 8 && std::memcmp(b.data(), magic, 8) == 0, Status::bad_input,
                      "{}: not a cohort {} (bad magic)", path, kind);
  COHORT_CHECK_STATUS(b.size() >= kFrameHeaderBytes + kFrameTrailerBytes, Status::bad_input,
                      "{}: truncated {}: {} bytes, shorter than a {} header and checksum", path, kind, b.size(), kind);
  Reader head(std::string_view(b).substr(8, kFrameHeaderBytes - 8), path);
  file.version = head.pod<uint32_t>();
  const auto declared = head.pod<uint64_t>();
  COHORT_CHECK_STATUS(file.version >= oldest && file.version <= newest, Status::bad_input,
                      "{}: {} version {} is not supported (this cohort reads {} to {})", path, kind, file.version,
                      oldest, newest);
  const uint64_t held = b.size() - kFrameHeaderBytes - kFrameTrailerBytes;
  COHORT_CHECK_STATUS(declared <= held, Status::bad_input,
                      "{}: truncated {}: header declares {} payload bytes, file holds {}", path, kind, declared, held);
  COHORT_CHECK_STATUS(declared == held, Status::bad_input,
                      "{}: {} has {} trailing bytes after its declared {} payload bytes", path, kind, held - declared,
                      declared);
  uint64_t stored = 0;
  std::memcpy(&stored, b.data() + b.size() - kFrameTrailerBytes, sizeof(stored));
  const uint64_t computed = fnv1a64(file.payload());
  COHORT_CHECK_STATUS(stored == computed, Status::bad_input,
                      "{}: corrupted {}: checksum mismatch (stored {:016x}, computed {:016x})", path, kind, stored,
                      computed);
  return file;
}

}  // namespace cohort::binary
