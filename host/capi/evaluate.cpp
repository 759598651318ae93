// cohort_evaluate: the evaluation protocol of the pipeline, metrics.json as text.
#include "engine/pipeline/pipeline.hpp"
#include "host/capi/config.hpp"
#include "host/capi/handles.hpp"

using namespace cohort;
using namespace cohort::capi;

extern "C" {

cohort_status cohort_evaluate(cohort_context* context, const cohort_dataset* dataset,
                              const cohort_model_config* model_config, const cohort_groups_config* groups_config,
                              char* out_json, size_t capacity, size_t* out_needed) {
  return guarded(__func__, [&] {
    cohort_context& ctx = require(context, "context");
    const Interactions& data = require(dataset, "dataset").data;
    require(out_needed, "out_needed");
    PipelineConfig config;
    config.embed = to_embed_config(model_config, "model_config");
    config.sweep = to_sweep_config(groups_config, "groups_config");
    config.split.seed = ctx.seed;
    config.backend_name = ctx.backend_name;
    const PipelineResult result = run_pipeline(ctx.engine(), data, ItemCatalog{}, {}, config);
    write_text(result.metrics.dump(2), out_json, capacity, out_needed, "out_json");
  });
}

}  // extern "C"
