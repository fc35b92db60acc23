// Model statistics for people: what `infervisorctl stats` and `infervisorctl top` print. Pure:
// the samples come in, text comes out, so every number is testable without a server.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>

#include "client/kserve_types.hpp"

namespace infervisor::client {

// What one model did between two samples of its statistics, `seconds` apart.
struct ModelActivity {
  double requests_per_s = 0;            // answered, successfully or not
  double failures_per_s = 0;            // answered with an error
  double inferences_per_s = 0;          // a batch of n counts n
  std::optional<double> average_batch;  // inferences per execution; none without executions
  std::optional<double> queue_us;       // average wait of a request in the queue
  std::optional<double> compute_us;     // average compute input + infer + output of an execution
  // A counter went down: the model was reloaded or the server restarted after `before`, so
  // everything `after` counts happened within the interval and is taken whole.
  bool counters_reset = false;
};

// `before` is null for a model that had no statistics in the previous sample (new since then):
// its counters are taken whole, as after a reset. Rates are 0 for an interval of 0 or less.
ModelActivity model_activity(const ModelStatistics* before, const ModelStatistics& after,
                             std::chrono::duration<double> interval);

// `infervisorctl stats`: a block per model: requests ok and failed (by reason, where the server
// gives reasons), inferences, executions and average batch, executions per batch size, average
// queue and compute phase times, latency quantiles, pending requests, the last inference (UTC)
// and a table of workers. "no models\n" for an empty list.
std::string format_statistics(std::span<const ModelStatistics> models);

// One frame of `infervisorctl top`: a row per model of `after` (in its order) with its activity
// since `before` (models matched by name and version), latency quantiles, pending requests,
// workers ready out of all and their restarts. No ANSI codes: the caller clears the screen.
std::string format_top(std::span<const ModelStatistics> before,
                       std::span<const ModelStatistics> after,
                       std::chrono::duration<double> interval);

}  // namespace infervisor::client
