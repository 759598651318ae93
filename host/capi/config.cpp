#include "host/capi/config.hpp"

#include <cmath>

#include "host/capi/handles.hpp"

namespace cohort::capi {
namespace {

std::string field(const char* config, const char* member) { return std::string(config) + "->" + member; }

}  // namespace

EmbedConfig to_embed_config(const cohort_model_config* config, const char* name) {
  const cohort_model_config defaults = COHORT_MODEL_CONFIG_INIT;
  const cohort_model_config c = read_config(config, defaults, sizeof(cohort_model_config), name);
  EmbedConfig out;
  out.model = parse_model_kind(require_string(c.model, field(name, "model")));
  const std::string solver = require_string(c.solver, field(name, "solver"));
  COHORT_CHECK(solver == "cg" || solver == "cholesky", "{}->solver is '{}', expected cg or cholesky", name, solver);
  out.solver = solver == "cholesky" ? SolverKind::cholesky : SolverKind::conjugate_gradient;
  COHORT_CHECK(c.factors >= 1 && c.factors <= 4096, "{}->factors is {}, expected 1..4096", name, c.factors);
  COHORT_CHECK(c.iterations >= 0, "{}->iterations is {}, expected >= 0", name, c.iterations);
  COHORT_CHECK(std::isfinite(c.regularization) && c.regularization >= 0.0f,
               "{}->regularization is {}, expected a finite number >= 0", name, c.regularization);
  COHORT_CHECK(std::isfinite(c.alpha) && c.alpha >= 0.0f, "{}->alpha is {}, expected a finite number >= 0", name,
               c.alpha);
  COHORT_CHECK(c.cg_steps >= 1, "{}->cg_steps is {}, expected >= 1", name, c.cg_steps);
  COHORT_CHECK(std::isfinite(c.learning_rate) && c.learning_rate > 0.0f,
               "{}->learning_rate is {}, expected a finite number > 0", name, c.learning_rate);
  out.factors = c.factors;
  out.iterations = c.iterations;
  out.regularization = c.regularization;
  out.alpha = c.alpha;
  out.cg_steps = c.cg_steps;
  out.learning_rate = c.learning_rate;
  return out;
}

SweepConfig to_sweep_config(const cohort_groups_config* config, const char* name) {
  const cohort_groups_config defaults = COHORT_GROUPS_CONFIG_INIT;
  const cohort_groups_config c = read_config(config, defaults, sizeof(cohort_groups_config), name);
  COHORT_CHECK(c.k == 0 || c.k >= 2, "{}->k is {}, expected 0 (sweep k_min..k_max) or a number of groups >= 2",
               name, c.k);
  if (c.k == 0) {
    COHORT_CHECK(c.k_min >= 2 && c.k_max >= c.k_min, "{}->k_min, k_max are {}, {}: expected 2 <= k_min <= k_max",
                 name, c.k_min, c.k_max);
  }
  COHORT_CHECK(c.restarts >= 1, "{}->restarts is {}, expected >= 1", name, c.restarts);
  COHORT_CHECK(c.max_iterations >= 1, "{}->max_iterations is {}, expected >= 1", name, c.max_iterations);
  COHORT_CHECK(c.silhouette_sample >= 2, "{}->silhouette_sample is {}, expected >= 2", name, c.silhouette_sample);
  SweepConfig out;
  out.k_min = c.k_min;
  out.k_max = c.k_max;
  out.fixed_k = c.k;
  out.restarts = c.restarts;
  out.max_iterations = c.max_iterations;
  out.silhouette_sample = c.silhouette_sample;
  out.metric = KMeansMetric::cosine;
  return out;
}

}  // namespace cohort::capi
