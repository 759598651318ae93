#include "engine/data/text.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>

#include "kernels/error.hpp"

namespace cohort::text {
namespace {

constexpr size_t kHeadBytes = 4096;
// A longer "line" is not text we can use; refuse it rather than grow without bound.
constexpr size_t kMaxLineBytes = size_t{64} << 20;

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

}  // namespace

LineReader::LineReader(const std::string& path, size_t chunk_bytes) : path_(path) {
  file_ = std::fopen(path.c_str(), "rb");
  if (file_ == nullptr) COHORT_FAIL(Status::io_error, "cannot open '{}': {}", path, std::strerror(errno));
  struct stat info {};
  if (fstat(fileno(file_), &info) == 0) {
    if (S_ISDIR(info.st_mode)) {
      std::fclose(file_);
      file_ = nullptr;
      COHORT_FAIL(Status::io_error, "cannot open '{}': {}", path, std::strerror(EISDIR));
    }
    file_size_ = static_cast<int64_t>(info.st_size);
  }
  size_t want = static_cast<size_t>(std::max<int64_t>(file_size_, 0)) + 1;
  buffer_.resize(std::clamp<size_t>(want, size_t{64} << 10, std::max<size_t>(chunk_bytes, size_t{64} << 10)));
  refill();
  constexpr unsigned char kBom[3] = {0xEF, 0xBB, 0xBF};
  if (end_ >= 3 && std::memcmp(buffer_.data(), kBom, 3) == 0) begin_ = 3;
  head_.assign(buffer_.data() + begin_, std::min(kHeadBytes, end_ - begin_));
}

LineReader::~LineReader() {
  if (file_ != nullptr) std::fclose(file_);
}

bool LineReader::refill() {
  size_t pending = end_ - begin_;
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, pending);
    begin_ = 0;
    end_ = pending;
  }
  if (end_ == buffer_.size()) {
    COHORT_CHECK_STATUS(buffer_.size() < kMaxLineBytes, Status::bad_input,
                        "{}:{}: line longer than {} MiB (is this a text file?)", path_, line_number_ + 1,
                        kMaxLineBytes >> 20);
    buffer_.resize(buffer_.size() * 2);
  }
  size_t asked = buffer_.size() - end_;
  size_t got = std::fread(buffer_.data() + end_, 1, asked, file_);
  end_ += got;
  if (got < asked) {
    if (std::ferror(file_)) COHORT_FAIL(Status::io_error, "cannot read '{}': {}", path_, std::strerror(errno));
    eof_ = true;
  }
  return got > 0;
}

bool LineReader::next(std::string_view& line) {
  for (;;) {
    const char* start = buffer_.data() + begin_;
    size_t available = end_ - begin_;
    const char* newline = static_cast<const char*>(std::memchr(start, '\n', available));
    size_t length;
    if (newline != nullptr) {
      length = static_cast<size_t>(newline - start);
      begin_ += length + 1;
    } else if (eof_) {
      if (available == 0) return false;
      length = available;
      begin_ = end_;
    } else {
      refill();
      continue;
    }
    if (length > 0 && start[length - 1] == '\r') --length;
    line = std::string_view(start, length);
    ++line_number_;
    return true;
  }
}

std::string_view trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && is_blank(s[b])) ++b;
  while (e > b && is_blank(s[e - 1])) --e;
  return s.substr(b, e - b);
}

std::string excerpt(std::string_view line) {
  constexpr size_t kMax = 80;
  std::string out;
  if (line.size() <= kMax) {
    out.assign(line);
  } else {
    size_t cut = kMax - 3;
    // Do not cut a UTF-8 sequence in half.
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
    out.assign(line.substr(0, cut));
    out += "...";
  }
  // Control bytes (a stray NUL, an escape) would garble the message: show them as '?'.
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t') c = '?';
  }
  return out;
}

bool looks_binary(std::string_view head) {
  size_t control = 0;
  for (char ch : head) {
    auto c = static_cast<unsigned char>(ch);
    if (c == 0) return true;
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') || c == 0x7F) ++control;
  }
  return control * 10 > head.size();
}

bool split_fields(std::string_view line, std::string_view delimiter, bool quotes,
                  std::vector<std::string_view>& fields, std::string& scratch) {
  fields.clear();
  // Unquoted text is never longer than the line: reserving it keeps earlier fields valid.
  if (scratch.capacity() < line.size()) scratch.reserve(line.size());
  scratch.clear();
  const size_t n = line.size();
  const bool single = delimiter.size() == 1;
  auto delimiter_at = [&](size_t i) { return line.substr(i, delimiter.size()) == delimiter; };
  size_t pos = 0;
  for (;;) {
    if (quotes) {
      size_t q = pos;
      while (q < n && is_blank(line[q]) && !delimiter_at(q)) ++q;
      if (q < n && line[q] == '"') {
        size_t out_begin = scratch.size();
        size_t i = q + 1;
        bool closed = false;
        while (i < n) {
          if (line[i] == '"') {
            if (i + 1 < n && line[i + 1] == '"') {
              scratch.push_back('"');
              i += 2;
              continue;
            }
            closed = true;
            ++i;
            break;
          }
          scratch.push_back(line[i++]);
        }
        if (!closed) return false;
        while (i < n && is_blank(line[i]) && !delimiter_at(i)) ++i;
        fields.emplace_back(scratch.data() + out_begin, scratch.size() - out_begin);
        if (i == n) return true;
        if (!delimiter_at(i)) return false;
        pos = i + delimiter.size();
        continue;
      }
    }
    size_t end = single ? line.find(delimiter[0], pos) : line.find(delimiter, pos);
    if (end == std::string_view::npos) {
      fields.push_back(trim(line.substr(pos)));
      return true;
    }
    fields.push_back(trim(line.substr(pos, end - pos)));
    pos = end + delimiter.size();
  }
}

bool parse_float(std::string_view s, float& out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && ptr == s.data() + s.size() && std::isfinite(out);
}

bool parse_int64(std::string_view s, int64_t& out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, out);
  if (ec == std::errc{} && ptr == end) return true;
  double d = 0.0;
  auto [dptr, dec] = std::from_chars(s.data(), end, d);
  if (dec != std::errc{} || dptr != end || !std::isfinite(d) || std::fabs(d) >= 9.2e18) return false;
  out = static_cast<int64_t>(d);
  return true;
}

bool parse_int32(std::string_view s, int32_t& out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && ec == std::errc{} && ptr == s.data() + s.size();
}

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t extra;
    uint32_t code;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;
    for (size_t k = 1; k <= extra; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      code = (code << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
    constexpr uint32_t kMinimum[4] = {0, 0x80, 0x800, 0x10000};
    if (code < kMinimum[extra] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

std::string latin1_to_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out.push_back(ch);
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

void fail_line(const std::string& path, int64_t line_number, std::string_view what, std::string_view line) {
  COHORT_FAIL(Status::bad_input, "{}:{}: {}: '{}'", path, line_number, what, excerpt(line));
}

}  // namespace cohort::text
