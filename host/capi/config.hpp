// The C config structs read into the engine's configs, with every field checked.
#pragma once

#include "cohort/cohort.h"
#include "engine/cluster/model_selection.hpp"
#include "engine/embed/embed.hpp"

namespace cohort::capi {

// NULL gives the _INIT defaults. name: how the caller's parameter is called, for messages.
EmbedConfig to_embed_config(const cohort_model_config* config, const char* name);
SweepConfig to_sweep_config(const cohort_groups_config* config, const char* name);

}  // namespace cohort::capi
