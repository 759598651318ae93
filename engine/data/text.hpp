// Text helpers shared by the data readers: a chunked line reader, delimited fields with
// optional quoting, number parsing and the "file:line: what: 'text'" error of a bad line.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace cohort::text {

// Reads a text file in large chunks and hands out its lines without copying them.
// A UTF-8 byte order mark at the start is dropped, "\r\n" ends a line like "\n", and the
// last line needs no newline. Error(io_error) "cannot open 'path': reason" when the file
// cannot be opened or read.
class LineReader {
 public:
  explicit LineReader(const std::string& path, size_t chunk_bytes = size_t{16} << 20);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // The first bytes of the file (at most 4 KiB, the byte order mark removed), for sniffing.
  const std::string& head() const { return head_; }
  int64_t file_size() const { return file_size_; }
  // The next line, valid until the following call; false at the end of the file.
  bool next(std::string_view& line);
  // 1-based number of the line last returned by next(); blank lines count.
  int64_t line_number() const { return line_number_; }

 private:
  bool refill();

  std::string path_;
  std::FILE* file_ = nullptr;
  std::vector<char> buffer_;
  size_t begin_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  int64_t line_number_ = 0;
  int64_t file_size_ = 0;
  std::string head_;
};

// Removes spaces, tabs and carriage returns at both ends.
std::string_view trim(std::string_view s);
// A line as quoted in error messages: at most 80 characters, "..." marking a cut.
std::string excerpt(std::string_view line);
// True when the bytes look like a binary file: a NUL byte, or over 10% control characters.
bool looks_binary(std::string_view head);

// Splits a line on delimiter; each field is trimmed. With quotes, a field that starts with
// '"' runs to its closing quote ("" inside stands for one quote) and is returned unquoted;
// its text lives in scratch, so fields stay valid until scratch is reused.
// Returns false for an unterminated quote or text after a closing quote.
bool split_fields(std::string_view line, std::string_view delimiter, bool quotes,
                  std::vector<std::string_view>& fields, std::string& scratch);

// Whole-field parses: the text must be a finite number and nothing else ('+' allowed).
bool parse_float(std::string_view s, float& out);
// Integers; a decimal timestamp ("978300760.0") is accepted and truncated.
bool parse_int64(std::string_view s, int64_t& out);
bool parse_int32(std::string_view s, int32_t& out);

bool is_valid_utf8(std::string_view s);
std::string latin1_to_utf8(std::string_view s);

// Error(bad_input) "path:line: what: 'excerpt of line'".
[[noreturn]] void fail_line(const std::string& path, int64_t line_number, std::string_view what,
                            std::string_view line);

}  // namespace cohort::text
