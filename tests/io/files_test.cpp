// Atomic writes, .npy arrays (byte-exact against what NumPy writes), directories.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>

#include "engine/io/files.hpp"
#include "kernels/error.hpp"

namespace cohort {
namespace {

namespace fs = std::filesystem;

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cohort_files_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static std::string slurp(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  static void spit(const std::string& p, const std::string& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  // Every file left in the directory.
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
  static Status status_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.status();
    }
    return Status::ok;
  }
  fs::path dir_;
};

Matrix sample(int64_t rows, int64_t cols) {
  Matrix m(rows, cols);
  for (size_t i = 0; i < m.data.size(); ++i) m.data[i] = 0.5f * static_cast<float>(i) - 1.25f;
  return m;
}

TEST_F(FilesTest, NpyRoundTrip) {
  const Matrix m = sample(7, 5);
  write_npy(path("m.npy"), m);
  const Matrix back = read_npy(path("m.npy"));
  EXPECT_EQ(back.rows, 7);
  EXPECT_EQ(back.cols, 5);
  EXPECT_EQ(back.data, m.data);
  const Matrix empty(0, 4);
  write_npy(path("e.npy"), empty);
  const Matrix e = read_npy(path("e.npy"));
  EXPECT_EQ(e.rows, 0);
  EXPECT_EQ(e.cols, 4);
}

TEST_F(FilesTest, NpyHeaderMatchesNumpy) {
  // numpy.save of a float32 array of shape (2, 3): magic, version 1.0, header length 118
  // (0x76, little-endian u16), the dict, spaces up to byte 127 and a newline: data at 128.
  //   10 + 59 (dict) + 58 (spaces) + 1 ('\n') = 128 = 2 * 64.
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  ASSERT_EQ(dict.size(), 59u);
  const std::string expected = std::string("\x93NUMPY\x01\x00\x76\x00", 10) + dict + std::string(58, ' ') + "\n";
  ASSERT_EQ(expected.size(), 128u);
  write_npy(path("m.npy"), sample(2, 3));
  const std::string bytes = slurp(path("m.npy"));
  ASSERT_EQ(bytes.size(), 128u + 6 * 4);
  EXPECT_EQ(bytes.substr(0, 128), expected);
  float first = 0.0f;
  std::memcpy(&first, bytes.data() + 128, 4);
  EXPECT_EQ(first, -1.25f);
}

TEST_F(FilesTest, NpyVectorsCarryTheirDtypeAndOneDimension) {
  // numpy writes a 1-D shape as "(3,)"; the dtypes are '<i8', '<i4' and '<f4'.
  write_npy(path("i8.npy"), std::vector<int64_t>{0, 5, 1LL << 40});
  write_npy(path("i4.npy"), std::vector<int32_t>{7, -1});
  write_npy(path("f4.npy"), std::vector<float>{});
  const std::string i8 = slurp(path("i8.npy"));
  EXPECT_NE(i8.find("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }"), std::string::npos);
  ASSERT_EQ(i8.size(), 128u + 3 * 8);
  int64_t last = 0;
  std::memcpy(&last, i8.data() + 128 + 16, 8);
  EXPECT_EQ(last, 1LL << 40);
  const std::string i4 = slurp(path("i4.npy"));
  EXPECT_NE(i4.find("'descr': '<i4'"), std::string::npos);
  ASSERT_EQ(i4.size(), 128u + 2 * 4);
  int32_t second = 0;
  std::memcpy(&second, i4.data() + 128 + 4, 4);
  EXPECT_EQ(second, -1);
  const std::string f4 = slurp(path("f4.npy"));
  EXPECT_NE(f4.find("'descr': '<f4', 'fortran_order': False, 'shape': (0,), }"), std::string::npos);
  EXPECT_EQ(f4.size(), 128u);
}

TEST_F(FilesTest, NpyHeaderIsAlignedForLargeShapes) {
  Matrix m(123456, 1);
  write_npy(path("m.npy"), m);
  const std::string bytes = slurp(path("m.npy"));
  const size_t header_len = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
  EXPECT_EQ((10 + header_len) % 64, 0u);
  EXPECT_EQ(bytes[10 + header_len - 1], '\n');
  EXPECT_NE(bytes.find("'shape': (123456, 1), }"), std::string::npos);
  EXPECT_EQ(bytes.size(), 10 + header_len + 123456 * 4);
}

TEST_F(FilesTest, CorruptedNpyIsRejected) {
  write_npy(path("good.npy"), sample(2, 3));
  const std::string good = slurp(path("good.npy"));
  auto rejected = [&](const std::string& bytes) {
    spit(path("bad.npy"), bytes);
    return status_of([&] { read_npy(path("bad.npy")); });
  };
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string b = good;
    b.replace(b.find(from), from.size(), to);
    return b;
  };
  EXPECT_EQ(rejected("PK\x03\x04 not numpy at all"), Status::bad_input);
  EXPECT_EQ(rejected(good.substr(0, 5)), Status::bad_input);
  EXPECT_EQ(rejected(good.substr(0, 60)), Status::bad_input);                // header cut
  EXPECT_EQ(rejected(good.substr(0, good.size() - 1)), Status::bad_input);   // data cut
  EXPECT_EQ(rejected(good + "x"), Status::bad_input);                         // trailing byte
  EXPECT_EQ(rejected(replaced("'<f4'", "'<f8'")), Status::bad_input);
  EXPECT_EQ(rejected(replaced("'<f4'", "'>f4'")), Status::bad_input);
  EXPECT_EQ(rejected(replaced("False", "True ")), Status::bad_input);
  EXPECT_EQ(rejected(replaced("(2, 3), ", "(2,3,1),")), Status::bad_input);  // 3-D
  EXPECT_EQ(rejected(replaced("(2, 3), ", "(6,),   ")), Status::bad_input);   // 1-D
  EXPECT_EQ(rejected(replaced("(2, 3), ", "(2, x), ")), Status::bad_input);
  EXPECT_EQ(rejected(replaced("(2, 3), }    ", "(99999, 3), }")), Status::bad_input);  // more than the data
  std::string version9 = good;
  version9[6] = 9;
  EXPECT_EQ(rejected(version9), Status::bad_input);
  EXPECT_EQ(status_of([&] { read_npy(path("missing.npy")); }), Status::io_error);
}

TEST_F(FilesTest, AtomicWriteLeavesOnlyTheFile) {
  write_file_atomically(path("out.txt"), [](std::ostream& os) { os << "hello\n"; });
  EXPECT_EQ(slurp(path("out.txt")), "hello\n");
  write_file_atomically(path("out.txt"), [](std::ostream& os) { os << "second"; });
  EXPECT_EQ(slurp(path("out.txt")), "second");
  EXPECT_EQ(entries(), std::vector<std::string>{"out.txt"});
}

TEST_F(FilesTest, FailedWriteKeepsTheOldFile) {
  spit(path("out.txt"), "old contents");
  // The writer fails half-way: the original is untouched and no temporary is left.
  EXPECT_THROW(write_file_atomically(path("out.txt"),
                                     [](std::ostream& os) {
                                       os << "partial";
                                       COHORT_FAIL(Status::bad_input, "writer gave up");
                                     }),
               Error);
  EXPECT_EQ(slurp(path("out.txt")), "old contents");
  EXPECT_EQ(entries(), std::vector<std::string>{"out.txt"});
  // A foreign exception becomes io_error naming the path.
  try {
    write_file_atomically(path("out.txt"), [](std::ostream&) { throw std::runtime_error("disk on fire"); });
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::io_error);
    EXPECT_NE(std::string(e.what()).find(path("out.txt")), std::string::npos) << e.what();
  }
  EXPECT_EQ(entries(), std::vector<std::string>{"out.txt"});
  // A stream put into a failed state is caught after writing.
  EXPECT_EQ(status_of([&] {
              write_file_atomically(path("out.txt"), [](std::ostream& os) { os.setstate(std::ios::badbit); });
            }),
            Status::io_error);
  EXPECT_EQ(slurp(path("out.txt")), "old contents");
  EXPECT_EQ(entries(), std::vector<std::string>{"out.txt"});
}

TEST_F(FilesTest, UnwritableLocationIsAnIoError) {
  const std::string target = path("no/such/dir/out.txt");
  try {
    write_file_atomically(target, [](std::ostream& os) { os << "x"; });
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::io_error);
    EXPECT_NE(std::string(e.what()).find(target), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos) << e.what();
  }
  // Renaming onto a directory fails after the temporary was written: it is removed.
  fs::create_directories(dir_ / "taken");
  EXPECT_EQ(status_of([&] { write_file_atomically(path("taken"), [](std::ostream& os) { os << "x"; }); }),
            Status::io_error);
  EXPECT_EQ(entries(), std::vector<std::string>{"taken"});
}

TEST_F(FilesTest, MakeDirectories) {
  make_directories(path("a/b/c"));
  EXPECT_TRUE(fs::is_directory(dir_ / "a" / "b" / "c"));
  make_directories(path("a/b/c"));  // already there: fine
  spit(path("file"), "x");
  EXPECT_EQ(status_of([&] { make_directories(path("file")); }), Status::io_error);
  EXPECT_EQ(status_of([&] { make_directories(path("file/sub")); }), Status::io_error);
}

}  // namespace
}  // namespace cohort
