// User and item embeddings: iALS, BPR, explicit MF (ALS on ratings), and fold-in.
#pragma once

#include <cstdint>
#include <string>

#include "engine/context.hpp"
#include "engine/data/csr.hpp"
#include "engine/data/interactions.hpp"
#include "kernels/backend.hpp"

namespace cohort {

enum class ModelKind { als, bpr, mf };
ModelKind parse_model_kind(const std::string& name);  // "als" | "bpr" | "mf"
const char* model_kind_name(ModelKind kind);

struct EmbedConfig {
  ModelKind model = ModelKind::als;
  int factors = 64;
  int iterations = 15;           // ALS/MF sweeps or BPR epochs
  float regularization = 0.05f;
  float alpha = 2.0f;            // iALS confidence 1 + alpha * r (applied by the trainer)
  bool log_confidence = false;   // 1 + alpha * log(1 + r) instead
  SolverKind solver = SolverKind::conjugate_gradient;
  int cg_steps = 3;
  float learning_rate = 0.05f;   // BPR
  float init_scale = 0.01f;      // initial factors ~ N(0, init_scale^2)
  bool compute_loss = false;     // loss each iteration (ALS/MF), reported as progress
};

struct Embeddings {
  ModelKind model = ModelKind::als;
  Matrix users;  // users x factors
  Matrix items;  // items x factors
  double final_loss = -1.0;  // last computed loss; -1 when not computed
};

// Error(bad_input) naming the user, the item and the value when `data` holds a value the
// model cannot take: implicit ALS reads values as counts or strengths, never negative. Call
// before splitting or training, where the ids are still at hand.
void check_values_for_model(const Interactions& data, const EmbedConfig& config);

// Trains on `train` (users x items, raw values: counts/ratings; the trainer applies the
// model's weighting). Factors are initialised on the host from ctx.seed, so every backend
// starts from the same point. Reports one progress event per iteration.
Embeddings train_embeddings(const Context& ctx, const Csr& train, const EmbedConfig& config);

// Factors of new users (rows of `user_items`, raw values as in training) with item factors
// fixed: one exact least-squares solve per user (iALS / MF); BPR uses the iALS fold-in with
// its item factors. Returns user_items.rows x factors.
Matrix fold_in(const Context& ctx, const Csr& user_items, const Embeddings& model, const EmbedConfig& config);

// The model's weighting of raw values for ALS: confidence 1 + alpha * r (or log).
Csr als_weights(const Csr& raw, const EmbedConfig& config);

}  // namespace cohort
