// The table COHORT_CUDA_TRACE prints (kernels/cuda/op_trace.hpp): calls, totals and first calls
// per operation, slowest first, and nothing at all when the variable is unset.
#include <cstdio>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "kernels/cuda/op_trace.hpp"

namespace cohort {
namespace {

std::string printed(const OpTrace& trace) {
  std::FILE* f = std::tmpfile();
  trace.print(f);
  std::rewind(f);
  std::string out;
  for (int c = std::fgetc(f); c != EOF; c = std::fgetc(f)) out.push_back(static_cast<char>(c));
  std::fclose(f);
  return out;
}

TEST(OpTrace, AddsUpCallsPerOperationSlowestFirst) {
  setenv("COHORT_CUDA_TRACE", "1", 1);
  OpTrace trace;
  unsetenv("COHORT_CUDA_TRACE");
  ASSERT_TRUE(trace.enabled());
  trace.add("als_solve", 0.010);
  trace.add("gram", 0.001);
  trace.add("als_solve", 0.002);
  trace.add("als_solve", 0.004);
  const std::string out = printed(trace);
  // als_solve: 3 calls, 16 ms in all, 10 ms the first, 3 ms the mean of the other two.
  EXPECT_NE(out.find("17.0 ms in backend operations"), std::string::npos) << out;
  const auto als = out.find("als_solve");
  const auto gram = out.find("gram");
  ASSERT_NE(als, std::string::npos);
  ASSERT_NE(gram, std::string::npos);
  EXPECT_LT(als, gram);
  const std::string als_line = out.substr(als, out.find('\n', als) - als);
  EXPECT_NE(als_line.find(" 3 "), std::string::npos) << als_line;
  EXPECT_NE(als_line.find("16.00"), std::string::npos) << als_line;
  EXPECT_NE(als_line.find("10.00"), std::string::npos) << als_line;
  EXPECT_NE(als_line.find("3.000"), std::string::npos) << als_line;
}

TEST(OpTrace, PrintsNothingUnlessAskedFor) {
  unsetenv("COHORT_CUDA_TRACE");
  OpTrace trace;
  EXPECT_FALSE(trace.enabled());
  trace.add("gram", 0.001);
  EXPECT_EQ(printed(trace), "");
}

}  // namespace
}  // namespace cohort
