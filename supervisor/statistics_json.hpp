// Triton's statistics extension body, {"model_stats": [...]}, for some of the daemon's models:
// each model's ModelStatistics with its name and version, plus our own "infervisor" object
// (failures by reason, pending jobs, latency percentiles, workers) that Triton clients ignore.
#pragma once

#include <span>
#include <string>

namespace infervisor::supervisor {

class ModelPool;

std::string statistics_json(std::span<const ModelPool* const> pools);

}  // namespace infervisor::supervisor
