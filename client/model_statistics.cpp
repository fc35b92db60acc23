#include "client/model_statistics.hpp"

#include <fmt/format.h>

#include <cmath>
#include <set>
#include <utility>

#include "client/checked_json.hpp"
#include "client/kserve_request.hpp"
#include "common/error.hpp"

namespace infervisor::client {
namespace json = boost::json;
namespace {

using namespace checked_json;

const json::object& object_field(const json::object& object, std::string_view key,
                                 std::string_view path) {
  const auto* value = object.if_contains(key);
  if (value == nullptr) corrupt(fmt::format("{}.{}: missing", path, key));
  return as_object(*value, fmt::format("{}.{}", path, key));
}

// The value at `key`, or nullptr when it is missing or null (an extra a server may leave out).
const json::value* optional_field(const json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  return value == nullptr || value->is_null() ? nullptr : value;
}

StatDuration stat_duration(const json::object& object, std::string_view path) {
  return StatDuration{unsigned_field(object, "count", path), unsigned_field(object, "ns", path)};
}

StatDuration duration_field(const json::object& object, std::string_view key, std::string_view path,
                            bool required) {
  if (!required && !object.contains(key)) return {};
  return stat_duration(object_field(object, key, path), fmt::format("{}.{}", path, key));
}

InferenceStats inference_stats(const json::object& object, std::string_view path) {
  InferenceStats stats;
  stats.success = duration_field(object, "success", path, true);
  stats.fail = duration_field(object, "fail", path, true);
  stats.queue = duration_field(object, "queue", path, true);
  stats.compute_input = duration_field(object, "compute_input", path, true);
  stats.compute_infer = duration_field(object, "compute_infer", path, true);
  stats.compute_output = duration_field(object, "compute_output", path, true);
  stats.cache_hit = duration_field(object, "cache_hit", path, false);
  stats.cache_miss = duration_field(object, "cache_miss", path, false);
  return stats;
}

std::vector<BatchStats> batch_stats(const json::object& model, std::string_view model_path) {
  const auto* value = model.if_contains("batch_stats");
  if (value == nullptr) corrupt(fmt::format("{}.batch_stats: missing", model_path));
  const auto& array = as_array(*value, fmt::format("{}.batch_stats", model_path));
  std::vector<BatchStats> out;
  for (std::size_t i = 0; i < array.size(); ++i) {
    const auto path = fmt::format("{}.batch_stats[{}]", model_path, i);
    const auto& object = as_object(array[i], path);
    BatchStats batch;
    batch.batch_size = unsigned_field(object, "batch_size", path);
    batch.compute_input = duration_field(object, "compute_input", path, true);
    batch.compute_infer = duration_field(object, "compute_infer", path, true);
    batch.compute_output = duration_field(object, "compute_output", path, true);
    out.push_back(batch);
  }
  return out;
}

std::optional<double> microseconds_field(const json::object& object, std::string_view key,
                                         std::string_view path) {
  const auto* value = optional_field(object, key);
  if (value == nullptr) return std::nullopt;
  const bool number = value->is_double() || value->is_int64() || value->is_uint64();
  const double us = number ? value->to_number<double>() : -1;
  if (!number || !std::isfinite(us) || us < 0) {
    corrupt(fmt::format("{}.{}: expected a non-negative number", path, key));
  }
  return us;
}

WorkerStatus worker_status(const json::value& value, std::string_view path) {
  const auto& object = as_object(value, path);
  WorkerStatus worker;
  worker.instance = unsigned_field(object, "instance", path);
  worker.state = string_field(object, "state", path, true);
  worker.restarts = unsigned_field(object, "restarts", path);
  if (const auto* pid = optional_field(object, "pid")) {
    const auto value = unsigned_value(*pid, fmt::format("{}.pid", path));
    if (value != 0) worker.pid = value;  // infervisord's 0: no process runs
  }
  return worker;
}

InfervisorStats infervisor_stats(const json::value& value, std::string_view path) {
  const auto& object = as_object(value, path);
  InfervisorStats stats;
  if (const auto* failures = optional_field(object, "failures")) {
    const auto failures_path = fmt::format("{}.failures", path);
    for (const auto& [reason, count] : as_object(*failures, failures_path)) {
      if (reason.empty()) corrupt(fmt::format("{}: a reason with no name", failures_path));
      stats.failures.emplace(
          std::string(reason),
          unsigned_value(count, fmt::format("{}.{}", failures_path, printable(reason))));
    }
  }
  if (const auto* pending = optional_field(object, "pending")) {
    stats.pending = unsigned_value(*pending, fmt::format("{}.pending", path));
  }
  if (const auto* latency = optional_field(object, "latency_us")) {
    const auto latency_path = fmt::format("{}.latency_us", path);
    const auto& quantiles = as_object(*latency, latency_path);
    stats.p50_us = microseconds_field(quantiles, "p50", latency_path);
    stats.p99_us = microseconds_field(quantiles, "p99", latency_path);
  }
  if (const auto* workers = optional_field(object, "workers")) {
    const auto workers_path = fmt::format("{}.workers", path);
    const auto& array = as_array(*workers, workers_path);
    for (std::size_t i = 0; i < array.size(); ++i) {
      stats.workers.push_back(worker_status(array[i], fmt::format("{}[{}]", workers_path, i)));
    }
  }
  return stats;
}

ModelStatistics model_statistics(const json::value& value, std::string_view path) {
  const auto& object = as_object(value, path);
  ModelStatistics model;
  model.name = string_field(object, "name", path, true);
  if (model.name.empty()) corrupt(fmt::format("{}.name: empty", path));
  model.version = string_field(object, "version", path, true);
  model.last_inference_ms = unsigned_field(object, "last_inference", path);
  model.inference_count = unsigned_field(object, "inference_count", path);
  model.execution_count = unsigned_field(object, "execution_count", path);
  model.inference_stats = inference_stats(object_field(object, "inference_stats", path),
                                          fmt::format("{}.inference_stats", path));
  model.batch_stats = batch_stats(object, path);
  if (const auto* extras = optional_field(object, "infervisor")) {
    model.infervisor = infervisor_stats(*extras, fmt::format("{}.infervisor", path));
  }
  return model;
}

}  // namespace

std::string model_statistics_target(std::string_view model, std::string_view version) {
  if (model.empty()) {
    if (!version.empty()) {
      throw InfervisorError(ErrorCode::kInvalidArgument,
                            fmt::format("statistics of version '{}' of no model", version));
    }
    return "/v2/models/stats";
  }
  return model_target(model, version) + "/stats";
}

std::vector<ModelStatistics> decode_model_statistics(std::string_view body,
                                                     std::string_view only_model,
                                                     std::string_view only_version) {
  const auto root = parse_json(body, "model statistics");
  const auto& object = as_object(root, "model statistics");
  const auto* list = object.if_contains("model_stats");
  if (list == nullptr) corrupt("model_stats: missing");
  const auto& array = as_array(*list, "model_stats");
  std::vector<ModelStatistics> models;
  std::set<std::pair<std::string, std::string>> seen;
  for (std::size_t i = 0; i < array.size(); ++i) {
    const auto path = fmt::format("model_stats[{}]", i);
    auto model = model_statistics(array[i], path);
    if (!only_model.empty() && model.name != only_model) {
      corrupt(fmt::format("{}.name: '{}', but the statistics of model '{}' were asked for", path,
                          printable(model.name), printable(only_model)));
    }
    if (!only_version.empty() && model.version != only_version) {
      corrupt(fmt::format("{}.version: '{}', but the statistics of version '{}' were asked for",
                          path, printable(model.version), printable(only_version)));
    }
    if (!seen.emplace(model.name, model.version).second) {
      corrupt(fmt::format("{}: model '{}' version '{}' appears twice", path, printable(model.name),
                          printable(model.version)));
    }
    models.push_back(std::move(model));
  }
  return models;
}

}  // namespace infervisor::client
