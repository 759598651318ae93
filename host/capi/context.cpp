// cohort_context: its workers (a backend and a communicator each), the seed and thread count.
#include <algorithm>
#include <cstddef>

#include "host/capi/handles.hpp"
#include "kernels/registry.hpp"

using namespace cohort;
using namespace cohort::capi;

extern "C" {

cohort_status cohort_backends_available(char* out_text, size_t capacity, size_t* out_needed) {
  return guarded(__func__, [&] {
    std::string text = "cpu";
    const int gpus = cuda_device_count();
    for (int d = 0; d < gpus; ++d) text += ",cuda:" + std::to_string(d);
    write_text(text, out_text, capacity, out_needed, "out_text");
  });
}

cohort_status cohort_context_create(const cohort_context_config* config, cohort_context** out_context) {
  return guarded(__func__, [&] {
    cohort_context** out = &require(out_context, "out_context");
    const cohort_context_config defaults = COHORT_CONTEXT_CONFIG_INIT;
    // The first version ended before tf32; workers came after it.
    const cohort_context_config c =
        read_config(config, defaults, offsetof(cohort_context_config, tf32), "config");
    const std::string backend = require_string(c.backend, "config->backend");
    COHORT_CHECK(c.threads >= 0, "config->threads is {}, expected >= 0 (0 = OpenMP's default)", c.threads);
    COHORT_CHECK(c.workers >= 0 && c.workers <= 1024, "config->workers is {}, expected 0..1024 (0 or 1 = one)",
                 c.workers);
    auto context = std::make_unique<cohort_context>();
    BackendOptions options;
    options.threads = c.threads;
    options.tf32 = c.tf32 != 0;
    context->workers = make_workers(backend, static_cast<int>(std::max<int64_t>(1, c.workers)), options);
    context->backend_name = context->workers.backends[0]->name();
    context->seed = c.seed;
    context->threads = c.threads;
    *out = context.release();
  });
}

void cohort_context_free(cohort_context* context) { delete context; }

cohort_status cohort_context_backend(const cohort_context* context, const char** out_name) {
  return guarded(__func__, [&] {
    const cohort_context& ctx = require(context, "context");
    require(out_name, "out_name") = ctx.backend_name.c_str();
  });
}

}  // extern "C"
