// GET /metrics: the daemon's state in the Prometheus text exposition format, built at each scrape
// from the models' statistics and their workers (no counter is kept twice). prometheus-cpp's core
// (metric families and its text serializer) writes the format; without it (the GPU machine has no
// package) the daemon is built without /metrics, which then answers 501.
//
// Names follow Prometheus' conventions: the infervisor_ prefix, seconds, _total for counters.
// README.md, "Metrics", maps each to its Triton counterpart.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>

namespace infervisor::supervisor {

class ModelPool;

struct DaemonGauges {
  std::size_t connections = 0;
  double uptime_seconds = 0;
};

// nullopt when built without prometheus-cpp.
std::optional<std::string> metrics_text(std::span<const ModelPool* const> pools,
                                        const DaemonGauges& daemon);

}  // namespace infervisor::supervisor
