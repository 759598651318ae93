#include "engine/embed/embed.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "engine/comm/agree.hpp"
#include "engine/comm/gather.hpp"
#include "engine/comm/shard_plan.hpp"
#include "engine/data/rows.hpp"
#include "engine/parallel_for.hpp"
#include "kernels/buffer.hpp"
#include "kernels/error.hpp"

namespace cohort {
namespace {

// A host Csr copied into the backend's memory once.
struct BackendCsr {
  int64_t rows = 0;
  int64_t cols = 0;
  Buffer<int64_t> indptr;
  Buffer<int32_t> indices;
  Buffer<float> values;

  BackendCsr(Backend& backend, const Csr& m)
      : rows(m.rows), cols(m.cols), indptr(backend, m.indptr), indices(backend, m.indices), values(backend, m.values) {}
  CsrView view() const { return {rows, cols, indices.size(), indptr.data(), indices.data(), values.data()}; }
};

void check_csr(const Csr& m, const char* what) {
  COHORT_CHECK(m.rows >= 0 && m.cols >= 0, "{}: negative shape {} x {}", what, m.rows, m.cols);
  COHORT_CHECK(static_cast<int64_t>(m.indptr.size()) == m.rows + 1 && m.indptr.front() == 0 &&
                   m.indptr.back() == m.nnz() && m.values.size() == m.indices.size(),
               "{}: inconsistent CSR ({} rows, {} indptr entries, {} indices, {} values)", what, m.rows,
               m.indptr.size(), m.indices.size(), m.values.size());
  for (int64_t r = 0; r < m.rows; ++r) {
    for (int64_t p = m.indptr[r]; p < m.indptr[r + 1]; ++p) {
      COHORT_CHECK(m.indices[p] >= 0 && m.indices[p] < m.cols, "{}: row {} has column {} outside [0, {})", what, r,
                   m.indices[p], m.cols);
      COHORT_CHECK(std::isfinite(m.values[p]), "{}: row {} column {} has value {}", what, r, m.indices[p],
                   m.values[p]);
    }
  }
}

// Written as !(x >= lo) so that NaN is rejected too.
void check_config(const EmbedConfig& c) {
  COHORT_CHECK(c.factors >= 1, "embedding: factors must be >= 1, got {}", c.factors);
  COHORT_CHECK(c.iterations >= 0, "embedding: iterations must be >= 0, got {}", c.iterations);
  COHORT_CHECK(c.regularization >= 0.0f && std::isfinite(c.regularization),
               "embedding: regularization must be finite and >= 0, got {}", c.regularization);
  COHORT_CHECK(c.alpha >= 0.0f && std::isfinite(c.alpha), "embedding: alpha must be finite and >= 0, got {}", c.alpha);
  COHORT_CHECK(c.cg_steps >= 1, "embedding: cg_steps must be >= 1, got {}", c.cg_steps);
  COHORT_CHECK(c.learning_rate > 0.0f && std::isfinite(c.learning_rate),
               "embedding: learning_rate must be finite and > 0, got {}", c.learning_rate);
  COHORT_CHECK(c.init_scale > 0.0f && std::isfinite(c.init_scale),
               "embedding: init_scale must be finite and > 0, got {}", c.init_scale);
  COHORT_CHECK(c.solver == SolverKind::cholesky || c.solver == SolverKind::conjugate_gradient,
               "embedding: unknown solver {}", static_cast<int>(c.solver));
}

// n x f factors ~ N(0, scale^2), drawn with an explicit Box-Muller transform over mt19937_64
// (std::normal_distribution differs between standard libraries). The generator's stream is
// sequential; the transform (a log, a square root, a sine and a cosine a pair; two thirds of
// the time on one thread) runs on every thread, a block of pairs at a time, with the same
// values as on one.
Matrix random_factors(std::mt19937_64& gen, int64_t n, int f, float scale) {
  Matrix m(n, f);
  const double two_pi = 6.283185307179586;
  auto uniform = [&gen] { return static_cast<double>(gen() >> 11) * 0x1.0p-53; };  // [0, 1)
  const size_t values = m.data.size();
  const size_t pairs = (values + 1) / 2;
  constexpr size_t kBlockPairs = size_t{1} << 16;
  constexpr int64_t kPartPairs = 4096;
  std::vector<double> u(2 * std::min(pairs, kBlockPairs));
  for (size_t first = 0; first < pairs; first += kBlockPairs) {
    const size_t count = std::min(kBlockPairs, pairs - first);
    for (size_t p = 0; p < count; ++p) {
      u[2 * p] = 1.0 - uniform();  // (0, 1], so log(u1) is finite
      u[2 * p + 1] = uniform();
    }
    parallel_for((static_cast<int64_t>(count) + kPartPairs - 1) / kPartPairs, [&](int64_t part) {
      const auto begin = static_cast<size_t>(part * kPartPairs);
      const size_t end = std::min(count, begin + static_cast<size_t>(kPartPairs));
      for (size_t p = begin; p < end; ++p) {
        const double radius = std::sqrt(-2.0 * std::log(u[2 * p]));
        const size_t i = 2 * (first + p);
        m.data[i] = static_cast<float>(scale * radius * std::cos(two_pi * u[2 * p + 1]));
        if (i + 1 < values) m.data[i + 1] = static_cast<float>(scale * radius * std::sin(two_pi * u[2 * p + 1]));
      }
    });
  }
  return m;
}

// splitmix64 finaliser: a well-spread per-epoch seed from the run's seed.
uint64_t mix_seed(uint64_t seed, uint64_t step) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (step + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// sum_r weight_r |x_r|^2; every weight 1 when `weights` is empty.
double sum_sq_norms(Backend& backend, MatrixView<const float> x, const std::vector<double>& weights = {}) {
  Buffer<float> norms(backend, x.rows);
  backend.row_sq_norms(x, norms.data());
  const std::vector<float> host = norms.to_host();
  double total = 0.0;
  for (size_t r = 0; r < host.size(); ++r) total += static_cast<double>(host[r]) * (weights.empty() ? 1.0 : weights[r]);
  return total;
}

// How many ratings each user (row) and each item (column) of `m` has.
std::pair<std::vector<double>, std::vector<double>> rating_counts(const Csr& m) {
  std::vector<double> users(static_cast<size_t>(m.rows)), items(static_cast<size_t>(m.cols), 0.0);
  for (int64_t u = 0; u < m.rows; ++u) users[static_cast<size_t>(u)] = static_cast<double>(m.row_length(u));
  for (int32_t i : m.indices) items[static_cast<size_t>(i)] += 1.0;
  return {std::move(users), std::move(items)};
}

// One half-step's share of an SPMD run: this rank's block of the rows being solved (users, or
// items through the transpose), in the backend's memory, and every rank's block (to gather).
struct RowShard {
  std::vector<RowBlock> blocks;
  RowBlock mine;
  BackendCsr rows;

  RowShard(const Context& ctx, const Csr& m, std::vector<RowBlock> plan)
      : blocks(std::move(plan)),
        mine(blocks[static_cast<size_t>(ctx.comm.rank())]),
        // One rank solves every row: no copy of the block.
        rows(ctx.comm.size() == 1 ? BackendCsr(ctx.backend, m)
                                  : BackendCsr(ctx.backend, row_range(m, mine.begin, mine.end))) {}

  // Rows solved by this rank go to `block` (its rows x f); then every rank's block is gathered
  // into `whole`, so each rank holds all factors for the next half-step.
  void gather(const Context& ctx, const Buffer<float>& block, Buffer<float>& whole, int64_t f) const {
    std::vector<int64_t> counts;
    for (const RowBlock& b : blocks) counts.push_back(b.rows() * f);
    ctx.comm.allgatherv(ctx.backend, block.data(), whole.data(), counts.data());
  }
};

// iALS (implicit) or explicit MF: alternate exact/CG half-steps for users and items. SPMD:
// each rank solves its block of users (then of items), balanced by nonzeros, and the blocks
// are gathered. Each rank computes the Gram matrix of the whole other side itself (n f^2
// flops, small beside the solve's nnz f^2 + n f^3): no reduction, so every rank's system,
// and so its factors, are bitwise those of a one-rank run.
void train_als(const Context& ctx, const Csr& train, const EmbedConfig& config, Embeddings& out) {
  Backend& backend = ctx.backend;
  const AlsMode mode = config.model == ModelKind::mf ? AlsMode::explicit_ratings : AlsMode::implicit;
  const Csr weighted = mode == AlsMode::implicit ? als_weights(train, config) : train;
  const Csr weighted_t = weighted.transpose();
  const int ranks = ctx.comm.size();
  const int64_t f = config.factors;
  const RowShard user_shard(ctx, weighted, plan_row_blocks(weighted.indptr, ranks));
  const RowShard item_shard(ctx, weighted_t, plan_row_blocks(weighted_t.indptr, ranks));
  Buffer<float> users(backend, out.users.data);
  Buffer<float> items(backend, out.items.data);
  Buffer<float> gram(backend, f * f);
  const MatrixView<float> x = users.matrix(train.rows, f);
  const MatrixView<float> y = items.matrix(train.cols, f);
  // With several ranks each solves into a block of its own, then the blocks are gathered.
  Buffer<float> user_block, item_block;
  if (ranks > 1) {
    user_block = Buffer<float>(backend, user_shard.mine.rows() * f);
    item_block = Buffer<float>(backend, item_shard.mine.rows() * f);
  }
  const bool implicit = mode == AlsMode::implicit;
  auto solve = [&](const RowShard& shard, MatrixView<const float> other, Buffer<float>& block, Buffer<float>& whole,
                   MatrixView<float> whole_view) {
    // The explicit solve needs no Gram matrix: its normal equations hold only observed items.
    if (implicit) backend.gram(other, gram.data());
    const MatrixView<float> target = ranks > 1 ? block.matrix(shard.mine.rows(), f) : whole_view;
    // CG starts from the rows' current factors.
    if (ranks > 1 && shard.mine.rows() > 0)
      backend.copy_within(block.data(), whole.data() + shard.mine.begin * f,
                          static_cast<std::size_t>(shard.mine.rows() * f) * sizeof(float));
    backend.als_solve(shard.rows.view(), other, implicit ? gram.data() : nullptr, config.regularization, mode,
                      config.solver, config.cg_steps, target);
    if (ranks > 1) shard.gather(ctx, block, whole, f);
  };
  const char* phase = model_kind_name(config.model);
  std::pair<std::vector<double>, std::vector<double>> counts;  // explicit MF's loss: ratings per user, per item

  for (int it = 0; it < config.iterations; ++it) {
    solve(user_shard, y, user_block, users, x);
    solve(item_shard, x, item_block, items, y);

    std::string detail;
    if (config.compute_loss) {
      // Full objective, the quantity the half-steps minimise: data term + reg (|X|^2 + |Y|^2),
      // each row's norm weighted by its count of ratings for explicit MF (backend.hpp, AlsMode).
      // The data term is summed over the ranks' user blocks; the norms are of whole matrices.
      if (implicit) backend.gram(y, gram.data());
      const MatrixView<const float> x_mine{x.data + user_shard.mine.begin * f, user_shard.mine.rows(), f, f};
      Buffer<double> data(backend, std::vector<double>{
          backend.als_loss(user_shard.rows.view(), x_mine, y, implicit ? gram.data() : nullptr, mode)});
      ctx.comm.allreduce_sum(backend, data.data(), 1);
      double norms = 0.0;
      if (implicit) {
        norms = sum_sq_norms(backend, x) + sum_sq_norms(backend, y);
      } else {
        if (counts.first.empty()) counts = rating_counts(weighted);
        norms = sum_sq_norms(backend, x, counts.first) + sum_sq_norms(backend, y, counts.second);
      }
      out.final_loss = data.to_host()[0] + config.regularization * norms;
      detail = fmt::format("loss {:.6g}", out.final_loss);
    }
    ctx.report(phase, it + 1, config.iterations, detail);
  }
  out.users.data = users.to_host();
  out.items.data = items.to_host();
}

// BPR's SGD is one sequence of updates over shared factors; it is not split across ranks.
// Rank 0 trains and the others receive its factors, so every rank holds the same model.
void train_bpr(const Context& ctx, const Csr& train, const EmbedConfig& config, Embeddings& out) {
  Backend& backend = ctx.backend;
  const int64_t f = config.factors;
  Buffer<float> users(backend, out.users.data);
  Buffer<float> items(backend, out.items.data);
  if (ctx.comm.rank() == 0) {
    const BackendCsr user_rows(backend, train);
    const MatrixView<float> x = users.matrix(train.rows, f);
    const MatrixView<float> y = items.matrix(train.cols, f);
    for (int epoch = 0; epoch < config.iterations; ++epoch) {
      const BprStats stats = backend.bpr_epoch(user_rows.view(), x, y, config.learning_rate, config.regularization,
                                               train.nnz(), mix_seed(ctx.seed, static_cast<uint64_t>(epoch)));
      const double correct = stats.samples > 0 ? static_cast<double>(stats.correct) / stats.samples : 0.0;
      ctx.report("bpr", epoch + 1, config.iterations, fmt::format("correct {:.4f}", correct));
    }
  }
  if (ctx.comm.size() > 1) {
    ctx.comm.broadcast(backend, users.data(), static_cast<int64_t>(users.size() * sizeof(float)), 0);
    ctx.comm.broadcast(backend, items.data(), static_cast<int64_t>(items.size() * sizeof(float)), 0);
  }
  out.users.data = users.to_host();
  out.items.data = items.to_host();
}

}  // namespace

ModelKind parse_model_kind(const std::string& name) {
  if (name == "als") return ModelKind::als;
  if (name == "bpr") return ModelKind::bpr;
  if (name == "mf") return ModelKind::mf;
  COHORT_FAIL(Status::invalid_argument, "unknown model '{}': expected als, bpr or mf", name);
}

const char* model_kind_name(ModelKind kind) {
  switch (kind) {
    case ModelKind::als: return "als";
    case ModelKind::bpr: return "bpr";
    case ModelKind::mf: return "mf";
  }
  return "unknown";
}

void check_values_for_model(const Interactions& data, const EmbedConfig& config) {
  if (config.model != ModelKind::als) return;
  const Csr& m = data.user_items;
  for (int64_t u = 0; u < m.rows; ++u) {
    for (int64_t p = m.indptr[u]; p < m.indptr[u + 1]; ++p) {
      COHORT_CHECK_STATUS(m.values[p] >= 0.0f, Status::bad_input,
                          "user '{}' has item '{}' with value {}: the implicit ALS model (als) reads values as "
                          "counts or strengths, which cannot be negative; signed ratings need the explicit model "
                          "(mf), or shift or drop the negative values",
                          data.user_ids[static_cast<size_t>(u)], data.item_ids[static_cast<size_t>(m.indices[p])],
                          m.values[p]);
    }
  }
}

Csr als_weights(const Csr& raw, const EmbedConfig& config) {
  COHORT_CHECK(config.alpha >= 0.0f && std::isfinite(config.alpha), "als_weights: alpha must be finite and >= 0, got {}",
               config.alpha);
  // Confidences must be >= 1 (the implicit solve's (c - 1) terms are weights), so raw values
  // must be >= 0.
  for (int64_t r = 0; r < raw.rows; ++r) {
    for (int64_t p = raw.indptr[r]; p < raw.indptr[r + 1]; ++p) {
      COHORT_CHECK(raw.values[p] >= 0.0f, "als_weights: row {} column {} has value {}; implicit data must be >= 0",
                   r, raw.indices[p], raw.values[p]);
    }
  }
  const double alpha = config.alpha;
  if (config.log_confidence)
    return raw.map_values([alpha](float r) { return static_cast<float>(1.0 + alpha * std::log1p(r)); });
  return raw.map_values([alpha](float r) { return static_cast<float>(1.0 + alpha * r); });
}

Embeddings train_embeddings(const Context& ctx, const Csr& train, const EmbedConfig& config) {
  check_config(config);
  check_csr(train, "train_embeddings: train");
  COHORT_CHECK(train.rows > 0 && train.cols > 0, "train_embeddings: train is {} x {}; need users and items",
               train.rows, train.cols);
  COHORT_CHECK(train.rows <= INT32_MAX && train.cols <= INT32_MAX, "train_embeddings: {} x {} exceeds 32-bit indices",
               train.rows, train.cols);

  check_ranks_agree(ctx, "train_embeddings: the training interactions", fingerprint(train));
  Embeddings out;
  out.model = config.model;
  // Users first, then items, from one stream: the same start on every backend.
  std::mt19937_64 gen(ctx.seed);
  out.users = random_factors(gen, train.rows, config.factors, config.init_scale);
  out.items = random_factors(gen, train.cols, config.factors, config.init_scale);

  if (config.model == ModelKind::bpr)
    train_bpr(ctx, train, config, out);
  else
    train_als(ctx, train, config, out);
  return out;
}

Matrix fold_in(const Context& ctx, const Csr& user_items, const Embeddings& model, const EmbedConfig& config) {
  check_config(config);
  check_csr(user_items, "fold_in: user_items");
  const int64_t f = model.items.cols;
  COHORT_CHECK(f >= 1 && model.items.rows == user_items.cols &&
                   static_cast<int64_t>(model.items.data.size()) == model.items.rows * f,
               "fold_in: user_items has {} items, the model's item factors are {} x {}", user_items.cols,
               model.items.rows, f);
  check_ranks_agree(ctx, "fold_in: the users' interactions", fingerprint(user_items));
  Matrix out(user_items.rows, static_cast<int>(f));
  if (user_items.rows == 0) return out;

  Backend& backend = ctx.backend;
  // MF folds in ratings by ridge regression; iALS and BPR by the implicit solve on the
  // item factors they trained (BPR's are used as they are, as the basis of a least-squares fit).
  // SPMD: each rank solves its block of the users (balanced by nonzeros); the blocks are gathered.
  const AlsMode mode = model.model == ModelKind::mf ? AlsMode::explicit_ratings : AlsMode::implicit;
  const bool sharded = ctx.comm.size() > 1;
  const RowBlock mine =
      plan_row_blocks(user_items.indptr, ctx.comm.size())[static_cast<size_t>(ctx.comm.rank())];
  const Csr my_rows = sharded ? row_range(user_items, mine.begin, mine.end) : Csr{};
  const Csr& to_solve = sharded ? my_rows : user_items;
  const BackendCsr rows(backend, mode == AlsMode::implicit ? als_weights(to_solve, config) : to_solve);
  const Buffer<float> items(backend, model.items.data);
  Buffer<float> users(backend, to_solve.rows * f);
  users.zero();
  const MatrixView<const float> y = items.matrix(model.items.rows, f);
  Buffer<float> gram;
  if (mode == AlsMode::implicit) {
    // The item factors are whole on every rank, so their Gram matrix needs no allreduce.
    gram = Buffer<float>(backend, f * f);
    backend.gram(y, gram.data());
  }
  if (to_solve.rows > 0)
    backend.als_solve(rows.view(), y, gram.data(), config.regularization, mode, SolverKind::cholesky, config.cg_steps,
                      users.matrix(to_solve.rows, f));
  out.data = allgather_rows(ctx.comm, users.to_host());
  return out;
}

}  // namespace cohort
