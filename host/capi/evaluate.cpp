// cohort_evaluate: the evaluation protocol of the pipeline, metrics.json as text.
#include "engine/pipeline/pipeline.hpp"
#include "host/capi/config.hpp"
#include "host/capi/handles.hpp"

using namespace cohort;
using namespace cohort::capi;

namespace {

// Identifies one evaluation: the dataset and every setting that changes its result.
std::string evaluation_key(const cohort_dataset& dataset, const PipelineConfig& c) {
  const EmbedConfig& e = c.embed;
  const SweepConfig& s = c.sweep;
  return fmt::format("{} {} {} {} {} {} {} {} {} | {} {} {} {} {} {}", dataset.serial, model_kind_name(e.model),
                     e.factors, e.iterations, e.regularization, e.alpha, static_cast<int>(e.solver), e.cg_steps,
                     e.learning_rate, s.k_min, s.k_max, s.fixed_k, s.restarts, s.max_iterations, s.silhouette_sample);
}

}  // namespace

extern "C" {

cohort_status cohort_evaluate(cohort_context* context, const cohort_dataset* dataset,
                              const cohort_model_config* model_config, const cohort_groups_config* groups_config,
                              char* out_json, size_t capacity, size_t* out_needed) {
  return guarded(__func__, [&] {
    cohort_context& ctx = require(context, "context");
    const cohort_dataset& d = require(dataset, "dataset");
    require(out_needed, "out_needed");
    PipelineConfig config;
    config.embed = to_embed_config(model_config, "model_config");
    config.sweep = to_sweep_config(groups_config, "groups_config");
    config.split.seed = ctx.seed;
    config.backend_name = ctx.backend_name;

    const std::string key = evaluation_key(d, config);
    std::string text;
    if (!ctx.pending_evaluation.empty() && ctx.pending_evaluation_key == key) {
      text = std::move(ctx.pending_evaluation);
    } else {
      text = ctx.sharded([&](const Context& engine) { return run_pipeline(engine, d.data, d.catalog, {}, config); })
                 .metrics.dump(2);
    }
    ctx.pending_evaluation.clear();
    ctx.pending_evaluation_key.clear();
    if (text.size() + 1 > capacity) {
      ctx.pending_evaluation_key = key;
      ctx.pending_evaluation = text;
    }
    write_text(text, out_json, capacity, out_needed, "out_json");
  });
}

}  // extern "C"
