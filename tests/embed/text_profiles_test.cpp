// Users' text profiles: the unit mean direction of the text vectors of what they chose.
#include "engine/embed/text_profiles.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "kernels/error.hpp"

namespace cohort {
namespace {

TEST(TextProfiles, UnitMeanOfTheItemsVectorsIgnoringValuesAndItemsWithoutText) {
  // Items: 0 = (1, 0), 1 = (0, 1), 2 has no text (zero row).
  Matrix vectors(3, 2);
  vectors.data = {1, 0, 0, 1, 0, 0};
  // Row 0: items 0 and 1 (the values 5 and 1 do not weigh); row 1: item 2 only; row 2: none;
  // row 3: items 1 and 2.
  const Csr rows = Csr::from_triplets(4, 3, {0, 0, 1, 3, 3}, {0, 1, 2, 1, 2}, {5, 1, 1, 1, 1});
  const Matrix p = text_profiles(rows, vectors);
  ASSERT_EQ(p.rows, 4);
  ASSERT_EQ(p.cols, 2);
  const float h = static_cast<float>(std::sqrt(0.5));
  EXPECT_NEAR(p.row(0)[0], h, 1e-6);
  EXPECT_NEAR(p.row(0)[1], h, 1e-6);
  EXPECT_EQ(p.row(1)[0], 0.0f);  // nothing with text: no direction
  EXPECT_EQ(p.row(1)[1], 0.0f);
  EXPECT_EQ(p.row(2)[0], 0.0f);
  EXPECT_EQ(p.row(2)[1], 0.0f);
  EXPECT_NEAR(p.row(3)[0], 0.0f, 1e-6);
  EXPECT_NEAR(p.row(3)[1], 1.0f, 1e-6);
}

TEST(TextProfiles, ShapeMismatchIsAnError) {
  Matrix vectors(2, 3);
  const Csr rows = Csr::from_triplets(1, 4, {0}, {3}, {1});
  EXPECT_THROW(text_profiles(rows, vectors), Error);
}

}  // namespace
}  // namespace cohort
