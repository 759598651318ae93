#include "engine/data/clean.hpp"

#include <cmath>

#include "kernels/error.hpp"

namespace cohort {
namespace {

// Number of users holding each item.
std::vector<int64_t> item_frequencies(const Csr& m) {
  std::vector<int64_t> df(static_cast<size_t>(m.cols), 0);
  for (int32_t c : m.indices) ++df[static_cast<size_t>(c)];
  return df;
}

}  // namespace

Interactions filter_min_counts(const Interactions& in, int min_user_count, int min_item_count) {
  COHORT_CHECK(min_user_count >= 0 && min_item_count >= 0,
               "filter_min_counts: thresholds must be >= 0 (min_user_count {}, min_item_count {})", min_user_count,
               min_item_count);
  const Csr& m = in.user_items;
  std::vector<char> keep_user(static_cast<size_t>(m.rows), 1);
  std::vector<char> keep_item(static_cast<size_t>(m.cols), 1);
  std::vector<int64_t> item_count(static_cast<size_t>(m.cols));
  // Dropping users lowers item counts and vice versa: repeat until nothing changes.
  for (bool changed = true; changed;) {
    changed = false;
    std::fill(item_count.begin(), item_count.end(), 0);
    for (int64_t u = 0; u < m.rows; ++u) {
      if (!keep_user[u]) continue;
      int64_t count = 0;
      for (int64_t p = m.indptr[u]; p < m.indptr[u + 1]; ++p) count += keep_item[m.indices[p]];
      if (count < min_user_count) {
        keep_user[u] = 0;
        changed = true;
        continue;
      }
      for (int64_t p = m.indptr[u]; p < m.indptr[u + 1]; ++p) {
        if (keep_item[m.indices[p]]) ++item_count[m.indices[p]];
      }
    }
    for (int64_t i = 0; i < m.cols; ++i) {
      if (keep_item[i] && item_count[i] < min_item_count) {
        keep_item[i] = 0;
        changed = true;
      }
    }
  }

  // Survivors keep their relative order, so column indices stay sorted within a row.
  std::vector<int32_t> new_item(static_cast<size_t>(m.cols), -1);
  Interactions out;
  for (int64_t i = 0; i < m.cols; ++i) {
    if (keep_item[i]) {
      new_item[i] = static_cast<int32_t>(out.item_ids.size());
      out.item_ids.push_back(in.item_ids[i]);
    }
  }
  for (int64_t u = 0; u < m.rows; ++u) {
    if (keep_user[u]) out.user_ids.push_back(in.user_ids[u]);
  }
  const auto users = static_cast<int64_t>(out.user_ids.size());
  const auto items = static_cast<int64_t>(out.item_ids.size());
  COHORT_CHECK_STATUS(users >= 2 && items >= 2, Status::bad_input,
                      "filtering with min_user_count {} and min_item_count {} leaves {} user(s) and {} item(s) of "
                      "{} x {}; at least 2 of each are needed: lower the thresholds",
                      min_user_count, min_item_count, users, items, m.rows, m.cols);

  Csr& f = out.user_items;
  f = Csr::empty(users, items);
  f.indptr.clear();
  f.indptr.push_back(0);
  const bool has_time = in.has_timestamps();
  for (int64_t u = 0; u < m.rows; ++u) {
    if (!keep_user[u]) continue;
    for (int64_t p = m.indptr[u]; p < m.indptr[u + 1]; ++p) {
      int32_t c = new_item[m.indices[p]];
      if (c < 0) continue;
      f.indices.push_back(c);
      f.values.push_back(m.values[p]);
      if (has_time) out.timestamps.push_back(in.timestamps[p]);
    }
    f.indptr.push_back(f.nnz());
  }
  out.skipped_lines = in.skipped_lines;
  out.duplicates_merged = in.duplicates_merged;
  return out;
}

Csr binarize(const Csr& m, float threshold) {
  Csr out = Csr::empty(m.rows, m.cols);
  for (int64_t r = 0; r < m.rows; ++r) {
    for (int64_t p = m.indptr[r]; p < m.indptr[r + 1]; ++p) {
      if (m.values[p] >= threshold) {
        out.indices.push_back(m.indices[p]);
        out.values.push_back(1.0f);
      }
    }
    out.indptr[r + 1] = out.nnz();
  }
  return out;
}

Csr confidence(const Csr& m, float alpha, ConfidenceScale scale, float epsilon) {
  COHORT_CHECK(std::isfinite(alpha) && alpha >= 0.0f, "confidence: alpha must be finite and >= 0, got {}", alpha);
  if (scale == ConfidenceScale::linear) return m.map_values([alpha](float r) { return 1.0f + alpha * r; });
  COHORT_CHECK(std::isfinite(epsilon) && epsilon > 0.0f, "confidence: epsilon must be > 0 for the log scale, got {}",
               epsilon);
  for (float r : m.values) {
    COHORT_CHECK(r > -epsilon, "confidence: value {} makes log(1 + r / epsilon) undefined (epsilon {})", r, epsilon);
  }
  return m.map_values([alpha, epsilon](float r) { return 1.0f + alpha * std::log1p(r / epsilon); });
}

Csr bm25_weight(const Csr& m, float k1, float b) {
  COHORT_CHECK(k1 >= 0.0f && b >= 0.0f && b <= 1.0f, "bm25_weight: need k1 >= 0 and 0 <= b <= 1, got k1 {} b {}", k1,
               b);
  Csr out = m;
  if (m.rows == 0 || m.nnz() == 0) return out;
  const std::vector<int64_t> df = item_frequencies(m);
  const double n = static_cast<double>(m.rows);
  // A user's length is the sum of its values, as in implicit's bm25_weight.
  std::vector<double> length(static_cast<size_t>(m.rows), 0.0);
  double total = 0.0;
  for (int64_t u = 0; u < m.rows; ++u) {
    for (int64_t p = m.indptr[u]; p < m.indptr[u + 1]; ++p) length[u] += m.values[p];
    total += length[u];
  }
  const double average = total / n;
  for (int64_t u = 0; u < m.rows; ++u) {
    const double norm = (1.0 - b) + (average != 0.0 ? b * length[u] / average : 0.0);
    for (int64_t p = m.indptr[u]; p < m.indptr[u + 1]; ++p) {
      const double r = m.values[p];
      const double idf = std::log(n) - std::log1p(static_cast<double>(df[m.indices[p]]));
      const double denominator = k1 * norm + r;
      out.values[p] = denominator != 0.0 ? static_cast<float>(r * (k1 + 1.0) / denominator * idf) : 0.0f;
    }
  }
  return out;
}

Csr tfidf_weight(const Csr& m) {
  Csr out = m;
  const std::vector<int64_t> df = item_frequencies(m);
  const double n = static_cast<double>(m.rows);
  for (size_t p = 0; p < out.values.size(); ++p) {
    const double idf = std::log(n / (1.0 + static_cast<double>(df[m.indices[p]])));
    out.values[p] = static_cast<float>(out.values[p] * idf);
  }
  return out;
}

Weighting parse_weighting(const std::string& name) {
  if (name == "none") return Weighting::none;
  if (name == "bm25") return Weighting::bm25;
  if (name == "tfidf") return Weighting::tfidf;
  COHORT_FAIL(Status::invalid_argument, "unknown weighting '{}': expected none, bm25 or tfidf", name);
}

Csr apply_weighting(const Csr& m, Weighting weighting) {
  switch (weighting) {
    case Weighting::bm25:
      return bm25_weight(m);
    case Weighting::tfidf:
      return tfidf_weight(m);
    case Weighting::none:
      break;
  }
  return m;
}

}  // namespace cohort
