// The k-means accumulation kernels (kernels/cuda/kmeans_accumulate_kernels.cuh) on the CPU
// emulation against the CPU backend. The sort-based sums, following the launcher's steps
// (the radix sort and the scan done here): runs longer than a piece, empty centroids, sums
// that already hold values (accumulate adds). Then finalize and the per-problem sums.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cuda/kmeans_accumulate_kernels.cuh"
#include "tests/kernels/cpu_test_support.hpp"

namespace cohort::test {
namespace {

namespace emu = cohort::cuda_emulation;

struct Sums {
  std::vector<double> sums, counts;
};

struct Batch {
  int64_t n = 0, d = 0;
  std::vector<float> x;
  std::vector<int64_t> offsets{0};
  std::vector<int32_t> labels;  // problems x n
  std::vector<double> sums0, counts0;
};

Batch make_batch(std::mt19937_64& rng, int64_t n, int64_t d, const std::vector<int64_t>& ks) {
  Batch b;
  b.n = n;
  b.d = d;
  for (int64_t k : ks) b.offsets.push_back(b.offsets.back() + k);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  b.x.resize(static_cast<std::size_t>(n * d));
  for (float& v : b.x) v = value(rng);
  for (int64_t k : ks) {
    std::uniform_int_distribution<int32_t> label(0, static_cast<int32_t>(k - 1));
    for (int64_t i = 0; i < n; ++i) b.labels.push_back(label(rng));
  }
  const int64_t total_k = b.offsets.back();
  b.sums0.assign(static_cast<std::size_t>(total_k * d), 0.5);
  b.counts0.assign(static_cast<std::size_t>(total_k), 2.0);
  return b;
}

Sums cpu_accumulate(const Batch& b) {
  auto cpu = make_cpu_backend(1);
  const int problems = static_cast<int>(b.offsets.size()) - 1;
  Buffer<float> x(*cpu, b.x);
  Buffer<int32_t> labels(*cpu, b.labels);
  Buffer<double> sums(*cpu, b.sums0), counts(*cpu, b.counts0);
  cpu->kmeans_accumulate(x.matrix(b.n, b.d), labels.data(), b.offsets.data(), problems, sums.data(), counts.data());
  return {sums.to_host(), counts.to_host()};
}

// The sort-based path as kmeans.cu runs it, with std::stable_sort for cub's radix sort and
// std::exclusive_scan for its scan; rows in bands of band_rows.
Sums sorted_accumulate(const Batch& b, int64_t band_rows, int* flag) {
  const int problems = static_cast<int>(b.offsets.size()) - 1;
  const int64_t count = b.n * problems;
  const auto total_k = static_cast<int32_t>(b.offsets.back());
  const auto bands = static_cast<int32_t>((b.n + band_rows - 1) / band_rows);
  const int32_t segments = bands * total_k;
  std::vector<int32_t> keys(static_cast<std::size_t>(count)), rows(keys.size());
  emu::launch(dim3(3), dim3(64), 0, cuda::make_keys_kernel, b.labels.data(), b.offsets.data(), problems, b.n, total_k,
              band_rows, segments, keys.data(), rows.data(), flag);
  std::vector<std::size_t> perm(keys.size());
  std::iota(perm.begin(), perm.end(), 0);
  std::stable_sort(perm.begin(), perm.end(), [&](std::size_t x, std::size_t y) { return keys[x] < keys[y]; });
  std::vector<int32_t> keys_sorted(keys.size()), rows_sorted(keys.size());
  for (std::size_t p = 0; p < perm.size(); ++p) {
    keys_sorted[p] = keys[perm[p]];
    rows_sorted[p] = rows[perm[p]];
  }
  std::vector<int64_t> start(static_cast<std::size_t>(segments) + 1), pieces(start.size(), 0),
      piece_offset(start.size());
  emu::launch(dim3(2), dim3(64), 0, cuda::run_starts_kernel, keys_sorted.data(), count, segments, start.data());
  emu::launch(dim3(2), dim3(64), 0, cuda::piece_counts_kernel, start.data(), segments, pieces.data());
  std::exclusive_scan(pieces.begin(), pieces.end(), piece_offset.begin(), int64_t{0});
  const int64_t max_pieces = count / cuda::kPieceRows + segments;
  std::vector<double> piece_sums(static_cast<std::size_t>(max_pieces * b.d), NAN);
  emu::launch(dim3(4), dim3(32), 0, cuda::piece_sums_kernel, b.x.data(), b.d, b.d, rows_sorted.data(), start.data(),
              piece_offset.data(), segments, max_pieces, piece_sums.data());
  Sums out{b.sums0, b.counts0};
  emu::launch(dim3(3), dim3(32), 0, cuda::add_pieces_kernel, piece_sums.data(), start.data(), piece_offset.data(),
              total_k, bands, b.d, out.sums.data(), out.counts.data());
  return out;
}

TEST(SortedAccumulateEmulated, MatchesTheCpuBackend) {
  // 2,500 rows: k = 1 and k = 2 runs are longer than a 1,024-row piece; k = 40 on 2,500 rows
  // leaves no centroid empty, so one more problem with labels only in [0, 3) makes some.
  std::mt19937_64 rng(5);
  Batch b = make_batch(rng, 2500, 7, {1, 2, 40, 9});
  for (int64_t i = 0; i < b.n; ++i) b.labels[static_cast<std::size_t>(3 * b.n + i)] %= 3;
  const Sums want = cpu_accumulate(b);
  // One band; bands of 700 rows (the last one short), whose runs split pieces; bands of 1.
  for (int64_t band_rows : {b.n, int64_t{700}, int64_t{1}}) {
    SCOPED_TRACE("band_rows " + std::to_string(band_rows));
    int flag = 0;
    const Sums got = sorted_accumulate(b, band_rows, &flag);
    EXPECT_EQ(flag, 0);
    for (std::size_t e = 0; e < want.sums.size(); ++e) ASSERT_NEAR(got.sums[e], want.sums[e], 1e-9) << e;
    EXPECT_EQ(got.counts, want.counts);
  }

  b.labels[5] = 1;  // problem 0 has k = 1
  int flag = 0;
  sorted_accumulate(b, 700, &flag);
  EXPECT_EQ(flag, cuda::kSortBadLabel);
}

TEST(KmeansUpdateEmulated, FinalizeAndPerProblemSumsMatchTheCpuBackend) {
  auto cpu = make_cpu_backend(1);
  const int64_t k = 5, d = 3, ld = 4;
  const std::vector<double> sums{1, 2, 3, 4, 5, 6, 0, 0, 0, -3, 3, 9, 2, 2, 2};
  const std::vector<double> counts{1, 2, 0, 3, 4};  // centroid 2 has no rows: unchanged
  std::vector<float> centroids(static_cast<std::size_t>(k * ld), 7.0f);
  Buffer<double> ds(*cpu, sums), dc(*cpu, counts);
  Buffer<float> dcent(*cpu, centroids);
  cpu->kmeans_finalize(ds.data(), dc.data(), MatrixView<float>(dcent.data(), k, d, ld));
  emu::launch(dim3(2), dim3(32), 0, cuda::finalize_kernel, sums.data(), counts.data(), centroids.data(), k, d, ld);
  EXPECT_EQ(centroids, dcent.to_host());

  std::mt19937_64 rng(6);
  std::uniform_real_distribution<float> value(0.0f, 2.0f);
  const int64_t n = 1300;
  const int problems = 3;
  std::vector<float> values(static_cast<std::size_t>(n * problems));
  for (float& v : values) v = value(rng);
  std::vector<double> want(problems), got(problems);
  Buffer<float> dv(*cpu, values);
  cpu->sum_per_problem(dv.data(), n, problems, want.data());
  emu::launch(dim3(problems), dim3(512), 0, cuda::sum_per_problem_kernel, values.data(), n, got.data());
  for (int p = 0; p < problems; ++p) EXPECT_NEAR(got[p], want[p], 1e-9 * n);
}

}  // namespace
}  // namespace cohort::test
