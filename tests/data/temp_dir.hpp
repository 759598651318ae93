// A fresh temporary directory per test, removed with everything in it afterwards.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "kernels/error.hpp"

namespace cohort::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "cohort_data_XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string path(const std::string& name) const { return (path_ / name).string(); }
  // Writes the bytes exactly as given (no newline translation) and returns the file's path.
  std::string write(const std::string& name, std::string_view bytes) const {
    std::string p = path(name);
    std::ofstream out(p, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return p;
  }
  const std::filesystem::path& root() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Runs f, expecting cohort::Error with the given status; returns its message ("" if none thrown).
template <class F>
std::string error_of(F f, Status expected) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(static_cast<int>(e.status()), static_cast<int>(expected)) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no cohort::Error thrown";
  return "";
}

}  // namespace cohort::testing
