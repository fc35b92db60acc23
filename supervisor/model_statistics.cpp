#include "supervisor/model_statistics.hpp"

#include <boost/json.hpp>
#include <cmath>

#include "supervisor/config.hpp"
#include "supervisor/job.hpp"

namespace infervisor::supervisor {
namespace json = boost::json;
namespace {

json::object duration_json(const StatDuration& duration) {
  return {{"count", duration.count}, {"ns", duration.ns}};
}

}  // namespace

std::uint64_t inference_rows(const Job& job) {
  const auto& specs = job.model().inputs;
  const auto& inputs = job.request().inputs;
  if (specs.empty() || inputs.empty() || specs[0].dims.empty() || specs[0].dims[0] != -1 ||
      inputs[0].shape.empty() || inputs[0].shape[0] < 1)
    return 1;
  return static_cast<std::uint64_t>(inputs[0].shape[0]);
}

const char* outcome_name(Outcome outcome) noexcept {
  switch (outcome) {
    case Outcome::kSuccess:
      return "success";
    case Outcome::kRejected:
      return "rejected";
    case Outcome::kTimeout:
      return "timeout";
    case Outcome::kWorkerDeath:
      return "worker_death";
    case Outcome::kModelError:
      return "model_error";
    case Outcome::kBadRequest:
      return "bad_request";
    case Outcome::kClientGone:
      return "client_gone";
  }
  return "unknown";
}

Outcome classify(unsigned status, bool worker_died) noexcept {
  if (status >= 200 && status < 300) return Outcome::kSuccess;
  if (status == 499) return Outcome::kClientGone;
  if (status == 504) return Outcome::kTimeout;
  if (status == 503 || status == 429) return Outcome::kRejected;
  if (status >= 400 && status < 500) return Outcome::kBadRequest;
  return worker_died ? Outcome::kWorkerDeath : Outcome::kModelError;
}

void LatencyHistogram::add(std::chrono::nanoseconds latency) noexcept {
  const double us = static_cast<double>(latency.count()) / 1e3;
  std::size_t bucket = 0;
  if (us > 1.0) {
    bucket = static_cast<std::size_t>(std::ceil(std::log2(us) * 8.0));
    if (bucket >= kBuckets) bucket = kBuckets - 1;
  }
  ++buckets_[bucket];
  ++count_;
}

double LatencyHistogram::upper_edge_us(std::size_t bucket) noexcept {
  return std::exp2(static_cast<double>(bucket) / 8.0);
}

double LatencyHistogram::quantile_us(double q) const noexcept {
  if (count_ == 0) return 0;
  const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank && seen > 0) return upper_edge_us(i);
  }
  return upper_edge_us(kBuckets - 1);
}

void SecondsHistogram::add(std::chrono::nanoseconds latency) noexcept {
  const double seconds = std::chrono::duration<double>(latency).count();
  std::size_t bucket = 0;
  while (bucket < kBounds.size() && seconds > kBounds[bucket])
    ++bucket;
  ++counts_[bucket];
  sum_seconds_ += seconds;
}

void ModelStatistics::record(const Job& job, unsigned status) {
  const auto now = std::chrono::steady_clock::now();
  const auto duration = now - job.created();
  const Outcome outcome = classify(status, !job.deaths().empty());
  ++outcomes_[static_cast<std::size_t>(outcome)];
  last_inference_ms_ =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  if (outcome != Outcome::kSuccess) {
    fail_.add(duration);
    return;
  }
  success_.add(duration);
  latency_.add(duration);
  latency_seconds_.add(duration);
  inference_count_ += inference_rows(job);
  if (const auto& times = job.times()) {
    queue_.add(times->queue);
    compute_input_.add(times->input_copy);
    compute_infer_.add(times->forward);
    compute_output_.add(times->output_copy);
  }
}

void ModelStatistics::record_execution(std::uint64_t rows, const shm::StageTimes& stages) {
  using std::chrono::nanoseconds;
  ++execution_count_;
  auto& batch = batch_stats_[std::max<std::uint64_t>(rows, 1)];
  batch.compute_input.add(nanoseconds(stages.input_copy_ns));
  batch.compute_infer.add(nanoseconds(stages.forward_ns));
  batch.compute_output.add(nanoseconds(stages.output_copy_ns));
}

json::object ModelStatistics::triton_json() const {
  json::array batches;
  for (const auto& [size, batch] : batch_stats_) {
    batches.emplace_back(json::object{{"batch_size", size},
                                      {"compute_input", duration_json(batch.compute_input)},
                                      {"compute_infer", duration_json(batch.compute_infer)},
                                      {"compute_output", duration_json(batch.compute_output)}});
  }
  return {
      {"last_inference", last_inference_ms_},
      {"inference_count", inference_count_},
      {"execution_count", execution_count_},
      {"inference_stats", json::object{{"success", duration_json(success_)},
                                       {"fail", duration_json(fail_)},
                                       {"queue", duration_json(queue_)},
                                       {"compute_input", duration_json(compute_input_)},
                                       {"compute_infer", duration_json(compute_infer_)},
                                       {"compute_output", duration_json(compute_output_)},
                                       {"cache_hit", duration_json({})},
                                       {"cache_miss", duration_json({})}}},
      {"batch_stats", std::move(batches)},
  };
}

}  // namespace infervisor::supervisor
