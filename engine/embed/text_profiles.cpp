#include "engine/embed/text_profiles.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/parallel_for.hpp"
#include "kernels/error.hpp"

namespace cohort {

Matrix text_profiles(const Csr& rows, const Matrix& text_vectors) {
  COHORT_CHECK(rows.cols == text_vectors.rows && text_vectors.cols >= 1 &&
                   static_cast<int64_t>(text_vectors.data.size()) == text_vectors.rows * text_vectors.cols,
               "text_profiles: {} items in the rows, text vectors {} x {}", rows.cols, text_vectors.rows,
               text_vectors.cols);
  const int64_t d = text_vectors.cols;
  Matrix out(rows.rows, d);
  constexpr int64_t kRowsPerPart = 256;
  parallel_for((rows.rows + kRowsPerPart - 1) / kRowsPerPart, [&](int64_t part) {
    std::vector<double> sum(static_cast<size_t>(d));
    const int64_t end = std::min(rows.rows, (part + 1) * kRowsPerPart);
    for (int64_t u = part * kRowsPerPart; u < end; ++u) {
      std::fill(sum.begin(), sum.end(), 0.0);
      for (int64_t p = rows.indptr[u]; p < rows.indptr[u + 1]; ++p) {
        const int32_t item = rows.indices[p];
        COHORT_CHECK(item >= 0 && item < text_vectors.rows, "text_profiles: row {} has item {} outside [0, {})", u,
                     item, text_vectors.rows);
        const float* v = text_vectors.row(item);
        for (int64_t j = 0; j < d; ++j) sum[static_cast<size_t>(j)] += v[j];
      }
      double norm = 0.0;
      for (double x : sum) norm += x * x;
      if (!(norm > 0.0)) continue;  // nothing with text: no direction
      const double scale = 1.0 / std::sqrt(norm);
      float* o = out.row(u);
      for (int64_t j = 0; j < d; ++j) o[j] = static_cast<float>(sum[static_cast<size_t>(j)] * scale);
    }
  });
  return out;
}

}  // namespace cohort
