#include "supervisor/metrics_text.hpp"

#if INFERVISOR_WITH_PROMETHEUS
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <limits>
#include <sstream>
#include <vector>

#include "supervisor/model_pool.hpp"
#endif

namespace infervisor::supervisor {

#if INFERVISOR_WITH_PROMETHEUS
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

double seconds(std::uint64_t ns) {
  return static_cast<double>(ns) / 1e9;
}

class Families {
 public:
  MetricFamily& family(const std::string& name, const std::string& help, MetricType type) {
    for (auto& each : families_) {
      if (each.name == name) return each;
    }
    families_.push_back({name, help, type, {}});
    return families_.back();
  }
  void counter(const std::string& name, const std::string& help, Labels labels, double value) {
    ClientMetric metric;
    metric.label = std::move(labels);
    metric.counter.value = value;
    family(name, help, MetricType::Counter).metric.push_back(std::move(metric));
  }
  void gauge(const std::string& name, const std::string& help, Labels labels, double value) {
    ClientMetric metric;
    metric.label = std::move(labels);
    metric.gauge.value = value;
    family(name, help, MetricType::Gauge).metric.push_back(std::move(metric));
  }
  std::vector<MetricFamily>& all() { return families_; }

 private:
  std::vector<MetricFamily> families_;
};

Labels with(Labels labels, std::string name, std::string value) {
  labels.push_back({std::move(name), std::move(value)});
  return labels;
}

void model_metrics(Families& out, const ModelPool& pool) {
  const ModelStatistics& stats = *pool.statistics();
  const Labels model{{"model", pool.model().name}, {"version", pool.model().version}};
  for (std::size_t i = 0; i < kOutcomeCount; ++i) {
    const auto outcome = static_cast<Outcome>(i);
    out.counter("infervisor_requests_total",
                "Requests answered, by outcome (success, or why they failed)",
                with(model, "outcome", outcome_name(outcome)),
                static_cast<double>(stats.outcomes(outcome)));
  }
  out.counter("infervisor_inferences_total", "Inferences (batch rows) of successful requests",
              model, static_cast<double>(stats.inference_count()));
  out.counter("infervisor_executions_total",
              "Model executions (forward calls) of successful requests; inferences / executions "
              "is the average batch",
              model, static_cast<double>(stats.execution_count()));
  out.counter("infervisor_request_duration_seconds_total",
              "Arrival to answer of successful requests, summed", model,
              seconds(stats.success().ns));
  out.counter("infervisor_failed_request_duration_seconds_total",
              "Arrival to answer of failed requests, summed", model, seconds(stats.fail().ns));
  out.counter("infervisor_queue_duration_seconds_total",
              "Arrival to the worker's request ring of successful requests, summed", model,
              seconds(stats.queue().ns));
  out.counter("infervisor_compute_input_duration_seconds_total",
              "Worker time copying inputs to the device, summed", model,
              seconds(stats.compute_input().ns));
  out.counter("infervisor_compute_infer_duration_seconds_total", "Worker time in forward(), summed",
              model, seconds(stats.compute_infer().ns));
  out.counter("infervisor_compute_output_duration_seconds_total",
              "Worker time copying outputs into the answer, summed", model,
              seconds(stats.compute_output().ns));
  {
    ClientMetric metric;
    metric.label = model;
    const auto& histogram = stats.latency_seconds();
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < histogram.counts().size(); ++i) {
      cumulative += histogram.counts()[i];
      metric.histogram.bucket.push_back(
          {cumulative, i < SecondsHistogram::kBounds.size()
                           ? SecondsHistogram::kBounds[i]
                           : std::numeric_limits<double>::infinity()});
    }
    metric.histogram.sample_count = cumulative;
    metric.histogram.sample_sum = histogram.sum_seconds();
    out.family("infervisor_request_duration_seconds", "Arrival to answer of successful requests",
               MetricType::Histogram)
        .metric.push_back(std::move(metric));
  }
  out.gauge("infervisor_pending_jobs", "Jobs queued or running on a worker", model,
            static_cast<double>(pool.queued() + pool.in_flight()));

  for (const auto& worker : pool.worker_summaries()) {
    const Labels labels = with(model, "instance", std::to_string(worker.instance));
    out.counter("infervisor_worker_restarts_total",
                "Worker processes started for a slot after its first (replacements, recycling, "
                "loads)",
                labels, static_cast<double>(worker.restarts));
    out.counter("infervisor_worker_exits_total",
                "Worker processes of a slot that ended, by cause: died on their own, or stopped "
                "by the daemon (deadline kill, recycling, load, unload, shutdown)",
                with(labels, "cause", "died"), static_cast<double>(worker.deaths));
    out.counter("infervisor_worker_exits_total", "", with(labels, "cause", "stopped_by_daemon"),
                static_cast<double>(worker.stops));
    for (const char* state : {"STARTING", "READY", "STOPPING", "RESPAWNING", "EXITED"}) {
      out.gauge("infervisor_worker_state",
                "1 for the state the worker slot is in (STARTING, READY, STOPPING, RESPAWNING, "
                "EXITED)",
                with(labels, "state", state), worker.state == state ? 1.0 : 0.0);
    }
    if (worker.anonymous_rss) {
      out.gauge("infervisor_worker_resident_anonymous_bytes",
                "RssAnon of the worker process (what a leak grows)", labels,
                static_cast<double>(*worker.anonymous_rss));
    }
    if (worker.gpu_memory_bytes) {
      out.gauge("infervisor_worker_gpu_memory_bytes",
                "GPU memory the worker's CUDA caching allocator holds (reserved, cached blocks "
                "included; its CUDA context is not counted), as the worker reports after each job",
                labels, static_cast<double>(*worker.gpu_memory_bytes));
    }
    out.gauge("infervisor_worker_request_ring_bytes",
              "Bytes of the worker's request ring holding jobs it has not read yet", labels,
              static_cast<double>(worker.ring_bytes_in_use));
    out.gauge("infervisor_worker_request_ring_capacity_bytes", "Size of the worker's request ring",
              labels, static_cast<double>(worker.ring_capacity));
  }
}

}  // namespace

std::optional<std::string> metrics_text(std::span<const ModelPool* const> pools,
                                        const DaemonGauges& daemon) {
  Families families;
  for (const ModelPool* pool : pools)
    model_metrics(families, *pool);
  families.gauge("infervisor_connections", "Open client connections (Unix socket and TCP)", {},
                 static_cast<double>(daemon.connections));
  families.gauge("infervisor_uptime_seconds", "Seconds since the daemon started", {},
                 daemon.uptime_seconds);
  std::ostringstream text;
  prometheus::TextSerializer().Serialize(text, families.all());
  return text.str();
}
#else
std::optional<std::string> metrics_text(std::span<const ModelPool* const>, const DaemonGauges&) {
  return std::nullopt;
}
#endif

}  // namespace infervisor::supervisor
