// What one model has done, for Triton's statistics extension (GET /v2/models[/{m}]/stats) and the
// metrics: every request's outcome, where the time of the successful ones went (queue and the
// worker's three stages, Triton's queue / compute_input / compute_infer / compute_output), and
// a latency histogram for percentiles.
//
// Requests are recorded once each, when their one answer goes out (Job::complete), whoever
// answers it; executions (forwards) once each, when a worker's RESPONSE arrives. inference_count
// counts the successful requests' rows (the first input's leading dimension when the model
// declares it free, as Triton counts a batch); execution_count the forwards, one per dynamic
// batch, so inferences / executions is the average batch; batch_stats is keyed by the rows of an
// execution, and its compute times are the forwards'. The per-request compute times in
// inference_stats are those of the execution the request was part of, as in Triton.
#pragma once

#include <array>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <vector>

#include "shm/frame.hpp"

namespace infervisor::supervisor {

class Job;

// The rows a request counts as inferences (see above): at least 1.
std::uint64_t inference_rows(const Job& job);

// Why a request failed (the metrics' `reason` label).
enum class Outcome {
  kSuccess,
  kRejected,     // 503: FAILED or unloaded model, full queue, byte or connection limits, shutdown
  kTimeout,      // 504: job_timeout or the request's timeout
  kWorkerDeath,  // 500 after its worker died running it
  kModelError,   // 500 otherwise: the model raised, or its outputs could not be carried
  kBadRequest,   // 4xx but 499
  kClientGone,   // 499: the client closed its connection first
};
inline constexpr std::size_t kOutcomeCount = 7;
const char* outcome_name(Outcome outcome) noexcept;  // "success", "rejected", ...
Outcome classify(unsigned status, bool worker_died) noexcept;

struct StatDuration {
  std::uint64_t count = 0;
  std::uint64_t ns = 0;
  void add(std::chrono::nanoseconds duration) noexcept {
    ++count;
    ns += static_cast<std::uint64_t>(std::max<std::int64_t>(duration.count(), 0));
  }
};

// Request latencies in buckets 2^(1/8) apart (9% wide) from 1 µs to ~3 hours.
class LatencyHistogram {
 public:
  static constexpr std::size_t kBuckets = 8 * 34;
  void add(std::chrono::nanoseconds latency) noexcept;
  std::uint64_t count() const noexcept { return count_; }
  // The upper edge of the bucket holding the q-quantile (0 < q <= 1), in microseconds; 0 if empty.
  double quantile_us(double q) const noexcept;
  static double upper_edge_us(std::size_t bucket) noexcept;
  const std::array<std::uint64_t, kBuckets>& buckets() const noexcept { return buckets_; }

 private:
  std::array<std::uint64_t, kBuckets> buckets_{};
  std::uint64_t count_ = 0;
};

// The same latencies in the fixed buckets a Prometheus histogram exposes (seconds, upper
// bounds; the last bucket is +Inf).
class SecondsHistogram {
 public:
  static constexpr std::array<double, 18> kBounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                  0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                                  1,      2.5,     5,      10,    30,     60};
  void add(std::chrono::nanoseconds latency) noexcept;
  // Counts per bucket, not cumulative; the last one is above every bound.
  const std::array<std::uint64_t, kBounds.size() + 1>& counts() const noexcept { return counts_; }
  double sum_seconds() const noexcept { return sum_seconds_; }

 private:
  std::array<std::uint64_t, kBounds.size() + 1> counts_{};
  double sum_seconds_ = 0;
};

class ModelStatistics {
 public:
  // `status`: the HTTP status of the job's answer.
  void record(const Job& job, unsigned status);
  // One forward of `rows` rows (one job's, or a batch's), with its worker's stage times.
  void record_execution(std::uint64_t rows, const shm::StageTimes& stages);

  std::uint64_t inference_count() const noexcept { return inference_count_; }
  std::uint64_t execution_count() const noexcept { return execution_count_; }
  std::uint64_t outcomes(Outcome outcome) const noexcept {
    return outcomes_[static_cast<std::size_t>(outcome)];
  }
  const StatDuration& success() const noexcept { return success_; }
  const StatDuration& fail() const noexcept { return fail_; }
  const StatDuration& queue() const noexcept { return queue_; }
  const StatDuration& compute_input() const noexcept { return compute_input_; }
  const StatDuration& compute_infer() const noexcept { return compute_infer_; }
  const StatDuration& compute_output() const noexcept { return compute_output_; }
  const LatencyHistogram& latency() const noexcept { return latency_; }
  const SecondsHistogram& latency_seconds() const noexcept { return latency_seconds_; }

  // One entry of Triton's "model_stats" (name, version and our "infervisor" extras added by the
  // caller).
  boost::json::object triton_json() const;

 private:
  struct BatchStats {
    StatDuration compute_input, compute_infer, compute_output;
  };
  StatDuration success_, fail_, queue_, compute_input_, compute_infer_, compute_output_;
  std::uint64_t inference_count_ = 0;
  std::uint64_t execution_count_ = 0;
  std::uint64_t last_inference_ms_ = 0;
  std::array<std::uint64_t, kOutcomeCount> outcomes_{};
  std::map<std::uint64_t, BatchStats> batch_stats_;
  LatencyHistogram latency_;
  SecondsHistogram latency_seconds_;
};

}  // namespace infervisor::supervisor
