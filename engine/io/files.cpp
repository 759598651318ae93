#include "engine/io/files.hpp"

#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

#include "kernels/error.hpp"

namespace cohort {
namespace {

static_assert(std::endian::native == std::endian::little, "the .npy writer assumes a little-endian host");

constexpr char kNpyMagic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};
constexpr size_t kNpyAlign = 64;

std::string describe_errno(int err) { return err != 0 ? std::strerror(err) : "unknown error"; }

// The text after `'key':` in an .npy header dict, with leading spaces skipped.
std::string_view npy_field(std::string_view dict, std::string_view key, const std::string& path) {
  const std::string quoted = fmt::format("'{}'", key);
  size_t at = dict.find(quoted);
  COHORT_CHECK_STATUS(at != std::string_view::npos, Status::bad_input, "{}: .npy header has no {} field: {}", path,
                      key, dict);
  at += quoted.size();
  while (at < dict.size() && dict[at] == ' ') ++at;
  COHORT_CHECK_STATUS(at < dict.size() && dict[at] == ':', Status::bad_input, "{}: malformed .npy header: {}", path,
                      dict);
  ++at;
  while (at < dict.size() && dict[at] == ' ') ++at;
  return dict.substr(at);
}

// Parses "(R, C)" (also "(R, C,)") into rows and cols; anything but two dimensions is rejected.
void parse_npy_shape(std::string_view text, const std::string& path, int64_t& rows, int64_t& cols) {
  size_t close = text.find(')');
  COHORT_CHECK_STATUS(!text.empty() && text[0] == '(' && close != std::string_view::npos, Status::bad_input,
                      "{}: malformed .npy shape: {}", path, text);
  std::string_view inner = text.substr(1, close - 1);
  std::vector<int64_t> dims;
  size_t pos = 0;
  while (pos < inner.size()) {
    while (pos < inner.size() && inner[pos] == ' ') ++pos;
    if (pos == inner.size()) break;
    size_t end = pos;
    int64_t value = 0;
    while (end < inner.size() && inner[end] >= '0' && inner[end] <= '9') {
      COHORT_CHECK_STATUS(value < (int64_t{1} << 40), Status::bad_input, "{}: .npy dimension too large: {}", path,
                          inner);
      value = value * 10 + (inner[end] - '0');
      ++end;
    }
    COHORT_CHECK_STATUS(end > pos, Status::bad_input, "{}: malformed .npy shape: ({})", path, inner);
    dims.push_back(value);
    pos = end;
    while (pos < inner.size() && inner[pos] == ' ') ++pos;
    if (pos < inner.size()) {
      COHORT_CHECK_STATUS(inner[pos] == ',', Status::bad_input, "{}: malformed .npy shape: ({})", path, inner);
      ++pos;
    }
  }
  COHORT_CHECK_STATUS(dims.size() == 2, Status::bad_input, "{}: .npy array has shape ({}), expected 2 dimensions",
                      path, inner);
  rows = dims[0];
  cols = dims[1];
}

}  // namespace

void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write) {
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  auto fail = [&](const std::string& what, int err) {
    std::remove(temp.c_str());
    COHORT_FAIL(Status::io_error, "{}: {}: {}", path, what, describe_errno(err));
  };
  {
    errno = 0;
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) fail("cannot write temporary " + temp, errno);
    try {
      write(out);
    } catch (const Error&) {
      out.close();
      std::remove(temp.c_str());
      throw;
    } catch (const std::exception& e) {
      out.close();
      std::remove(temp.c_str());
      COHORT_FAIL(Status::io_error, "{}: writing failed: {}", path, e.what());
    }
    errno = 0;
    out.flush();
    if (!out) fail("write failed", errno);
    out.close();
    if (out.fail()) fail("closing failed", errno);
  }
  errno = 0;
  if (std::rename(temp.c_str(), path.c_str()) != 0) fail("cannot rename " + temp + " to it", errno);
}

namespace {

// The .npy v1.0 frame around `bytes` of raw little-endian data: descr is the dtype ('<f4'),
// shape the tuple text ("(3, 4)" or "(5,)").
void write_npy_array(const std::string& path, const std::string& descr, const std::string& shape, const void* data,
                     size_t bytes) {
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape);
  // magic (6) + version (2) + header length (2) + dict + spaces + '\n' = a multiple of 64.
  const size_t prefix = sizeof(kNpyMagic) + 4;
  size_t total = prefix + dict.size() + 1;
  total = (total + kNpyAlign - 1) / kNpyAlign * kNpyAlign;
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict.push_back('\n');
  COHORT_CHECK(dict.size() <= 0xFFFF, "write_npy {}: header too long", path);
  const uint16_t header_len = static_cast<uint16_t>(dict.size());
  write_file_atomically(path, [&](std::ostream& out) {
    out.write(kNpyMagic, sizeof(kNpyMagic));
    const char version[2] = {1, 0};
    out.write(version, 2);
    const char len[2] = {static_cast<char>(header_len & 0xFF), static_cast<char>(header_len >> 8)};
    out.write(len, 2);
    out.write(dict.data(), static_cast<std::streamsize>(dict.size()));
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  });
}

template <class T>
void write_npy_vector(const std::string& path, const char* descr, const std::vector<T>& v) {
  write_npy_array(path, descr, fmt::format("({},)", v.size()), v.data(), v.size() * sizeof(T));
}

}  // namespace

void write_npy(const std::string& path, const Matrix& m) {
  COHORT_CHECK(m.rows >= 0 && m.cols >= 0 && m.data.size() == static_cast<size_t>(m.rows * m.cols),
               "write_npy {}: matrix {} x {} holds {} values", path, m.rows, m.cols, m.data.size());
  write_npy_array(path, "<f4", fmt::format("({}, {})", m.rows, m.cols), m.data.data(), m.data.size() * sizeof(float));
}

void write_npy(const std::string& path, const std::vector<float>& v) { write_npy_vector(path, "<f4", v); }
void write_npy(const std::string& path, const std::vector<int32_t>& v) { write_npy_vector(path, "<i4", v); }
void write_npy(const std::string& path, const std::vector<int64_t>& v) { write_npy_vector(path, "<i8", v); }

Matrix read_npy(const std::string& path) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  COHORT_CHECK_STATUS(in.good(), Status::io_error, "{}: cannot open: {}", path, describe_errno(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  COHORT_CHECK_STATUS(!in.bad(), Status::io_error, "{}: read failed: {}", path, describe_errno(errno));
  const std::string bytes = buffer.str();

  COHORT_CHECK_STATUS(bytes.size() >= 10 && std::memcmp(bytes.data(), kNpyMagic, sizeof(kNpyMagic)) == 0,
                      Status::bad_input, "{}: not a .npy file (bad magic)", path);
  const auto major = static_cast<unsigned char>(bytes[6]);
  size_t header_len = 0;
  size_t header_start = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8;
    header_start = 10;
  } else if (major == 2 || major == 3) {
    COHORT_CHECK_STATUS(bytes.size() >= 12, Status::bad_input, "{}: truncated .npy header", path);
    for (int b = 3; b >= 0; --b) header_len = header_len << 8 | static_cast<unsigned char>(bytes[8 + b]);
    header_start = 12;
  } else {
    COHORT_FAIL(Status::bad_input, "{}: unsupported .npy version {}.{}", path, major,
                static_cast<unsigned char>(bytes[7]));
  }
  COHORT_CHECK_STATUS(header_start + header_len <= bytes.size(), Status::bad_input,
                      "{}: truncated .npy header ({} bytes declared, file has {})", path, header_len, bytes.size());
  const std::string_view dict(bytes.data() + header_start, header_len);

  std::string_view descr = npy_field(dict, "descr", path);
  COHORT_CHECK_STATUS(descr.substr(0, 5) == "'<f4'", Status::bad_input,
                      "{}: .npy dtype must be little-endian float32 '<f4', found {}", path, descr.substr(0, 8));
  std::string_view order = npy_field(dict, "fortran_order", path);
  COHORT_CHECK_STATUS(order.substr(0, 5) == "False", Status::bad_input,
                      "{}: .npy array must be in C order (fortran_order False)", path);
  int64_t rows = 0;
  int64_t cols = 0;
  parse_npy_shape(npy_field(dict, "shape", path), path, rows, cols);

  const size_t data_start = header_start + header_len;
  COHORT_CHECK_STATUS(cols == 0 || static_cast<uint64_t>(rows) <= (bytes.size() / sizeof(float)) / static_cast<uint64_t>(cols),
                      Status::bad_input, "{}: .npy shape ({}, {}) is larger than the file ({} bytes)", path, rows,
                      cols, bytes.size());
  const auto expected = static_cast<size_t>(rows) * static_cast<size_t>(cols) * sizeof(float);
  COHORT_CHECK_STATUS(bytes.size() - data_start == expected, Status::bad_input,
                      "{}: .npy shape ({}, {}) needs {} data bytes, file has {}", path, rows, cols, expected,
                      bytes.size() - data_start);
  Matrix m(rows, cols);
  if (expected > 0) std::memcpy(m.data.data(), bytes.data() + data_start, expected);
  return m;
}

void make_directories(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  COHORT_CHECK_STATUS(!ec, Status::io_error, "{}: cannot create directory: {}", dir, ec.message());
  COHORT_CHECK_STATUS(std::filesystem::is_directory(dir, ec), Status::io_error, "{}: exists and is not a directory",
                      dir);
}

}  // namespace cohort
