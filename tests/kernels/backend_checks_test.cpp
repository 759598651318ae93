// The argument checks both backends share (kernels/backend_checks.hpp): they accept valid
// calls without reading backend memory, and reject bad ones naming the operation and value.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>

#include "kernels/backend_checks.hpp"

namespace cohort {
namespace {

using ::testing::HasSubstr;

// Stand-ins for device pointers: any read through them would crash the test.
template <class T>
T* device_ptr() {
  return reinterpret_cast<T*>(std::uintptr_t{4096});
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::invalid_argument);
    return e.what();
  }
  ADD_FAILURE() << "no Error thrown";
  return {};
}

CsrView device_csr(int64_t rows, int64_t cols, int64_t nnz) {
  CsrView m;
  m.rows = rows;
  m.cols = cols;
  m.nnz = nnz;
  m.indptr = device_ptr<const int64_t>();
  m.indices = device_ptr<const int32_t>();
  return m;
}

MatrixView<const float> device_matrix(int64_t rows, int64_t cols) {
  return MatrixView<const float>(device_ptr<const float>(), rows, cols);
}

TEST(BackendChecks, ValidCallsNeverReadBackendMemory) {
  const CsrView r = device_csr(4, 3, 6);
  const float* p = device_ptr<const float>();
  EXPECT_NO_THROW(check_gemm_nt_args(device_matrix(4, 2), device_matrix(3, 2), device_matrix(4, 3)));
  EXPECT_NO_THROW(check_row_sq_norms_args(device_matrix(4, 2), p));
  EXPECT_NO_THROW(check_topk_cosine_args(r, device_csr(3, 4, 6), 1, 3, 2, device_ptr<const int32_t>(), p));
  EXPECT_NO_THROW(check_gram_args(device_matrix(3, 2), p));
  EXPECT_NO_THROW(check_als_solve_args(r, device_matrix(3, 2), p, 0.1f, AlsMode::implicit,
                                       SolverKind::conjugate_gradient, 3, device_matrix(4, 2)));
  EXPECT_NO_THROW(check_als_loss_args(r, device_matrix(4, 2), device_matrix(3, 2), p, AlsMode::implicit));
  EXPECT_NO_THROW(check_bpr_epoch_args(r, device_matrix(4, 2), device_matrix(3, 2), 0.05f, 0.01f, 100));
  const int64_t offsets[] = {0, 2, 5};  // host memory by contract
  EXPECT_NO_THROW(check_kmeans_assign_args(device_matrix(10, 2), p, device_matrix(5, 2), offsets, 2,
                                           device_ptr<const int32_t>(), p));
  EXPECT_NO_THROW(check_kmeans_accumulate_args(device_matrix(10, 2), device_ptr<const int32_t>(), offsets, 2,
                                               device_ptr<const double>(), device_ptr<const double>()));
  ScoreTerms terms;
  terms.user_factors = device_matrix(4, 2);
  terms.item_factors = device_matrix(3, 2);
  EXPECT_NO_THROW(check_score_topk_args(terms, 4, 3, r, 2, device_ptr<const int32_t>(), p));
  EXPECT_NO_THROW(check_knn_score_topk_args(r, device_ptr<const int32_t>(), p, 2, 3, CsrView{}, 2,
                                            device_ptr<const int32_t>(), p));
}

TEST(BackendChecks, KOffsetsNameTheProblemAndItsK) {
  const int64_t offsets[] = {0, 2, 2};
  EXPECT_THAT(message_of([&] {
                check_kmeans_assign_args(device_matrix(10, 2), nullptr, device_matrix(2, 2), offsets, 2, nullptr,
                                         nullptr);
              }),
              HasSubstr("kmeans_assign: problem 1 has k = 0"));
  const int64_t short_offsets[] = {0, 3};
  EXPECT_THAT(message_of([&] {
                check_kmeans_assign_args(device_matrix(10, 2), nullptr, device_matrix(4, 2), short_offsets, 1,
                                         nullptr, nullptr);
              }),
              HasSubstr("k_offsets ends at 3 but there are 4 centroids"));
}

TEST(BackendChecks, OutputsMayBeNullOnlyWhenNothingIsWritten) {
  ScoreTerms terms;
  terms.user_factors = device_matrix(0, 2);
  terms.item_factors = device_matrix(3, 2);
  EXPECT_NO_THROW(check_score_topk_args(terms, 0, 3, CsrView{}, 2, nullptr, nullptr));
  terms.user_factors = device_matrix(4, 2);
  EXPECT_THAT(message_of([&] { check_score_topk_args(terms, 4, 3, CsrView{}, 2, nullptr, nullptr); }),
              HasSubstr("score_topk: output arrays are null"));
  EXPECT_NO_THROW(check_topk_cosine_args(device_csr(3, 3, 4), device_csr(3, 3, 4), 1, 1, 2, nullptr, nullptr));
  EXPECT_NO_THROW(check_row_sq_norms_args(device_matrix(0, 2), nullptr));
  EXPECT_NO_THROW(check_kmeans_finalize_args(nullptr, nullptr, MatrixView<const float>(nullptr, 0, 2)));
  EXPECT_THAT(message_of([] { check_kmeans_finalize_args(nullptr, nullptr, device_matrix(2, 2)); }),
              HasSubstr("kmeans_finalize: sums, counts and centroids must not be null"));
}

TEST(BackendChecks, BadShapesAndValuesAreNamed) {
  CsrView r = device_csr(4, 3, 6);
  r.indices = nullptr;
  EXPECT_THAT(message_of([&] {
                check_als_loss_args(r, device_matrix(4, 2), device_matrix(3, 2), nullptr, AlsMode::explicit_ratings);
              }),
              HasSubstr("als_loss: rows has no indices for 6 entries"));
  CsrView no_rows = device_csr(0, 3, 2);
  no_rows.indptr = nullptr;
  EXPECT_THAT(message_of([&] {
                check_bpr_epoch_args(no_rows, device_matrix(0, 2), device_matrix(3, 2), 0.1f, 0.0f, 1);
              }),
              HasSubstr("bpr_epoch: user_items has no indptr"));
  EXPECT_THAT(message_of([] {
                check_als_solve_args(device_csr(4, 3, 6), device_matrix(3, 2), nullptr, 0.1f,
                                     AlsMode::explicit_ratings, SolverKind::conjugate_gradient, 0,
                                     device_matrix(4, 2));
              }),
              HasSubstr("als_solve: cg_steps must be >= 1, got 0"));
  EXPECT_THAT(message_of([] {
                check_bpr_epoch_args(device_csr(4, 3, 6), device_matrix(4, 2), device_matrix(3, 2), -1.0f, 0.0f, 1);
              }),
              HasSubstr("bpr_epoch: learning_rate must be finite and >= 0, got -1"));
  EXPECT_THAT(message_of([] {
                check_gemm_nt_args(device_matrix(4, 2), device_matrix(3, 3), device_matrix(4, 3));
              }),
              HasSubstr("gemm_nt: a is 4 x 2 but b is 3 x 3"));
  EXPECT_THAT(message_of([] {
                check_topk_cosine_args(device_csr(4, 3, 6), device_csr(3, 4, 6), 2, 5, 1, nullptr, nullptr);
              }),
              HasSubstr("topk_cosine: rows [2, 5) outside the 4 rows of a"));
  EXPECT_THAT(message_of([] {
                check_knn_score_topk_args(device_csr(4, 3, 6), nullptr, nullptr, 2, 3, device_csr(2, 3, 1), 1,
                                          nullptr, nullptr);
              }),
              HasSubstr("knn_score_topk: neighbour lists are null"));
  EXPECT_THAT(message_of([] {
                check_knn_score_topk_args(device_csr(4, 3, 6), device_ptr<const int32_t>(), device_ptr<const float>(),
                                          2, 3, device_csr(2, 3, 1), 1, nullptr, nullptr);
              }),
              HasSubstr("knn_score_topk: exclude is 2 x 3, expected 4 x 3"));
}

}  // namespace
}  // namespace cohort
