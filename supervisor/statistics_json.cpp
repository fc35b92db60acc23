#include "supervisor/statistics_json.hpp"

#include <boost/json.hpp>

#include "supervisor/model_pool.hpp"

namespace infervisor::supervisor {
namespace json = boost::json;

std::string statistics_json(std::span<const ModelPool* const> pools) {
  json::array models;
  for (const ModelPool* pool : pools) {
    const ModelStatistics& stats = *pool->statistics();
    json::object entry{{"name", pool->model().name}, {"version", pool->model().version}};
    for (auto& [key, value] : stats.triton_json())
      entry[key] = value;
    json::object failures;
    for (std::size_t i = 1; i < kOutcomeCount; ++i) {
      const auto outcome = static_cast<Outcome>(i);
      failures[outcome_name(outcome)] = stats.outcomes(outcome);
    }
    json::array workers;
    for (const auto& worker : pool->worker_summaries()) {
      json::object entry_of_worker{{"instance", worker.instance},
                                   {"state", worker.state},
                                   {"restarts", worker.restarts},
                                   {"pid", worker.pid}};
      if (worker.gpu_memory_bytes) entry_of_worker["gpu_memory_bytes"] = *worker.gpu_memory_bytes;
      workers.emplace_back(std::move(entry_of_worker));
    }
    entry["infervisor"] = json::object{
        {"failures", std::move(failures)},
        {"pending", pool->queued() + pool->in_flight()},
        {"latency_us", json::object{{"p50", stats.latency().quantile_us(0.5)},
                                    {"p99", stats.latency().quantile_us(0.99)}}},
        {"workers", std::move(workers)},
    };
    models.emplace_back(std::move(entry));
  }
  return json::serialize(json::object{{"model_stats", std::move(models)}});
}

}  // namespace infervisor::supervisor
