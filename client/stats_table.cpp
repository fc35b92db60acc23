#include "client/stats_table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace infervisor::client {
namespace {

constexpr std::string_view kDash = "-";

// Columns by the characters a terminal shows, not bytes: "µs" is two bytes, one column.
std::size_t display_width(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  }));
}

// Rows of cells as aligned columns, two spaces apart, column i to the right where alignment[i]
// is 'r' (numbers), else to the left; each line starts with `indent`, trailing blanks trimmed.
std::string render_table(const std::vector<std::vector<std::string>>& rows,
                         std::string_view alignment, std::string_view indent = {}) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i)
      widths[i] = std::max(widths[i], display_width(row[i]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line(indent);
    for (std::size_t i = 0; i < row.size(); ++i) {
      const std::string padding(widths[i] - display_width(row[i]), ' ');
      if (i > 0) line += "  ";
      line += i < alignment.size() && alignment[i] == 'r' ? padding + row[i] : row[i] + padding;
    }
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    out += line + '\n';
  }
  return out;
}

std::string decimal(std::optional<double> value, int decimals = 1) {
  return value ? fmt::format("{:.{}f}", *value, decimals) : std::string(kDash);
}

std::string integer(std::optional<std::uint64_t> value) {
  return value ? fmt::format("{}", *value) : std::string(kDash);
}

// Average nanoseconds of a phase, in microseconds; none when it was never counted.
std::optional<double> average_us(std::uint64_t ns, std::uint64_t count) {
  if (count == 0) return std::nullopt;
  return static_cast<double>(ns) / static_cast<double>(count) / 1000.0;
}

std::optional<double> ratio(std::uint64_t numerator, std::uint64_t denominator) {
  if (denominator == 0) return std::nullopt;
  return static_cast<double>(numerator) / static_cast<double>(denominator);
}

std::string model_label(const ModelStatistics& model) {
  return model.version.empty() ? model.name
                               : fmt::format("{} (version {})", model.name, model.version);
}

// "2025-12-02 01:46:40.123 UTC"; "never" for 0.
std::string utc_time(std::uint64_t ms) {
  using namespace std::chrono;
  if (ms == 0) return "never";
  constexpr std::uint64_t kYear10000 = 253'402'300'800'000;  // where four digits end
  if (ms >= kYear10000) return fmt::format("{} ms after the epoch", ms);
  const sys_time<milliseconds> time{milliseconds(static_cast<std::int64_t>(ms))};
  const auto day = floor<days>(time);
  const year_month_day date{day};
  const hh_mm_ss clock{time - day};
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03} UTC", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                     clock.hours().count(), clock.minutes().count(), clock.seconds().count(),
                     clock.subseconds().count());
}

std::string requests_line(const ModelStatistics& model) {
  const auto& stats = model.inference_stats;
  std::string line = fmt::format("{} ok, {} failed", stats.success.count, stats.fail.count);
  std::vector<std::string> reasons;
  if (model.infervisor) {
    for (const auto& [reason, count] : model.infervisor->failures) {
      if (count > 0) reasons.push_back(fmt::format("{} {}", reason, count));
    }
  }
  if (!reasons.empty()) line += fmt::format(" ({})", fmt::join(reasons, ", "));
  return line;
}

std::string executions_line(const ModelStatistics& model) {
  std::string line = fmt::format("{}", model.execution_count);
  if (const auto batch = ratio(model.inference_count, model.execution_count)) {
    line += fmt::format(", average batch {:.2f}", *batch);
  }
  return line;
}

std::string batch_sizes_line(const ModelStatistics& model) {
  std::vector<std::string> sizes;
  for (const auto& batch : model.batch_stats) {
    sizes.push_back(fmt::format("{}: {}", batch.batch_size, batch.compute_infer.count));
  }
  return sizes.empty() ? std::string(kDash) : fmt::format("{}", fmt::join(sizes, ", "));
}

std::string phases_line(const InferenceStats& stats) {
  return fmt::format("queue {}, compute input {}, infer {}, output {}",
                     decimal(average_us(stats.queue.ns, stats.queue.count)),
                     decimal(average_us(stats.compute_input.ns, stats.compute_input.count)),
                     decimal(average_us(stats.compute_infer.ns, stats.compute_infer.count)),
                     decimal(average_us(stats.compute_output.ns, stats.compute_output.count)));
}

std::string workers_table(const std::vector<WorkerStatus>& workers) {
  std::vector<std::vector<std::string>> rows{{"INSTANCE", "STATE", "RESTARTS", "PID"}};
  for (const auto& worker : workers) {
    rows.push_back({fmt::format("{}", worker.instance), worker.state,
                    fmt::format("{}", worker.restarts), integer(worker.pid)});
  }
  return render_table(rows, "rlrr", "    ");
}

std::string model_block(const ModelStatistics& model) {
  std::vector<std::vector<std::string>> lines{
      {"requests:", requests_line(model)},
      {"inferences:", fmt::format("{}", model.inference_count)},
      {"executions:", executions_line(model)},
      {"batch sizes:", batch_sizes_line(model)},
      {"average µs:", phases_line(model.inference_stats)},
  };
  const auto* extras = model.infervisor ? &*model.infervisor : nullptr;
  if (extras != nullptr && (extras->p50_us || extras->p99_us)) {
    lines.push_back({"latency µs:", fmt::format("p50 {}, p99 {}", decimal(extras->p50_us),
                                                decimal(extras->p99_us))});
  }
  if (extras != nullptr && extras->pending) {
    lines.push_back({"pending:", integer(extras->pending)});
  }
  lines.push_back({"last inference:", utc_time(model.last_inference_ms)});
  std::string out = model_label(model) + '\n' + render_table(lines, "ll", "  ");
  if (extras != nullptr && !extras->workers.empty()) {
    out += "  workers:\n" + workers_table(extras->workers);
  }
  return out;
}

const ModelStatistics* find_model(std::span<const ModelStatistics> models,
                                  const ModelStatistics& like) {
  const auto found = std::find_if(models.begin(), models.end(), [&](const ModelStatistics& model) {
    return model.name == like.name && model.version == like.version;
  });
  return found == models.end() ? nullptr : &*found;
}

// Workers ready out of all, and their restarts, "-" where the server does not say.
std::pair<std::string, std::string> workers_cells(const ModelStatistics& model) {
  if (!model.infervisor || model.infervisor->workers.empty()) {
    return {std::string(kDash), std::string(kDash)};
  }
  const auto& workers = model.infervisor->workers;
  const auto ready = std::count_if(workers.begin(), workers.end(), [](const WorkerStatus& worker) {
    return worker.state == "READY";
  });
  std::uint64_t restarts = 0;
  for (const auto& worker : workers)
    restarts += worker.restarts;
  return {fmt::format("{}/{}", ready, workers.size()), fmt::format("{}", restarts)};
}

}  // namespace

ModelActivity model_activity(const ModelStatistics* before, const ModelStatistics& after,
                             std::chrono::duration<double> interval) {
  static const ModelStatistics kNothing;
  const auto& a = after;
  const auto& a_stats = a.inference_stats;
  const auto went_down = [&](const ModelStatistics& b) {
    const auto& b_stats = b.inference_stats;
    const auto down = [](const StatDuration& old, const StatDuration& now) {
      return now.count < old.count || now.ns < old.ns;
    };
    return a.inference_count < b.inference_count || a.execution_count < b.execution_count ||
           down(b_stats.success, a_stats.success) || down(b_stats.fail, a_stats.fail) ||
           down(b_stats.queue, a_stats.queue) ||
           down(b_stats.compute_input, a_stats.compute_input) ||
           down(b_stats.compute_infer, a_stats.compute_infer) ||
           down(b_stats.compute_output, a_stats.compute_output);
  };
  ModelActivity activity;
  activity.counters_reset = before != nullptr && went_down(*before);
  const auto& b = before == nullptr || activity.counters_reset ? kNothing : *before;
  const auto& b_stats = b.inference_stats;

  const double seconds = interval.count();
  const auto per_second = [&](std::uint64_t delta) {
    return seconds > 0 ? static_cast<double>(delta) / seconds : 0.0;
  };
  const auto successes = a_stats.success.count - b_stats.success.count;
  const auto failures = a_stats.fail.count - b_stats.fail.count;
  activity.requests_per_s = per_second(successes + failures);
  activity.failures_per_s = per_second(failures);
  const auto inferences = a.inference_count - b.inference_count;
  activity.inferences_per_s = per_second(inferences);
  activity.average_batch = ratio(inferences, a.execution_count - b.execution_count);

  const auto phase_us = [](const StatDuration& old, const StatDuration& now) {
    return average_us(now.ns - old.ns, now.count - old.count);
  };
  activity.queue_us = phase_us(b_stats.queue, a_stats.queue);
  const auto input = phase_us(b_stats.compute_input, a_stats.compute_input);
  const auto infer = phase_us(b_stats.compute_infer, a_stats.compute_infer);
  const auto output = phase_us(b_stats.compute_output, a_stats.compute_output);
  if (input || infer || output) {
    activity.compute_us = input.value_or(0) + infer.value_or(0) + output.value_or(0);
  }
  return activity;
}

std::string format_statistics(std::span<const ModelStatistics> models) {
  if (models.empty()) return "no models\n";
  std::string out;
  for (const auto& model : models) {
    if (!out.empty()) out += '\n';
    out += model_block(model);
  }
  return out;
}

std::string format_top(std::span<const ModelStatistics> before,
                       std::span<const ModelStatistics> after,
                       std::chrono::duration<double> interval) {
  std::string out =
      fmt::format("{} model(s), over the last {:.2f} s\n", after.size(), interval.count());
  std::vector<std::vector<std::string>> rows{{"MODEL", "VERSION", "REQ/S", "FAIL/S", "INFER/S",
                                              "BATCH", "QUEUE µs", "COMPUTE µs", "P50 µs", "P99 µs",
                                              "PENDING", "WORKERS", "RESTARTS"}};
  bool any_reset = false;
  for (const auto& model : after) {
    const auto activity = model_activity(find_model(before, model), model, interval);
    any_reset = any_reset || activity.counters_reset;
    const auto* extras = model.infervisor ? &*model.infervisor : nullptr;
    auto [workers, restarts] = workers_cells(model);
    rows.push_back({
        activity.counters_reset ? model.name + " *" : model.name,
        model.version.empty() ? std::string(kDash) : model.version,
        decimal(activity.requests_per_s),
        decimal(activity.failures_per_s),
        decimal(activity.inferences_per_s),
        decimal(activity.average_batch, 2),
        decimal(activity.queue_us),
        decimal(activity.compute_us),
        decimal(extras ? extras->p50_us : std::nullopt),
        decimal(extras ? extras->p99_us : std::nullopt),
        integer(extras ? extras->pending : std::nullopt),
        std::move(workers),
        std::move(restarts),
    });
  }
  out += render_table(rows, "llrrrrrrrrrrr");
  if (any_reset) out += "* counters restarted in this interval (reloaded, or a new server)\n";
  return out;
}

}  // namespace infervisor::client
