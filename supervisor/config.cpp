#include "supervisor/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include "common/error.hpp"
#include "common/logging.hpp"
#include "common/shape.hpp"
#include "common/socket_path.hpp"
#include "shm/frame.hpp"
#include "shm/segment.hpp"

namespace infervisor::supervisor {
namespace {

// Builds "FILE:LINE: KEY: reason" errors; LINE is 1-based from yaml-cpp's mark.
class Reporter {
 public:
  explicit Reporter(std::filesystem::path origin) : origin_(std::move(origin)) {}

  template <class... Args>
  [[noreturn]] void fail(const YAML::Node& at, std::string_view key,
                         fmt::format_string<Args...> format, Args&&... args) const {
    const auto mark = at.Mark();
    const std::string where =
        mark.line >= 0 ? fmt::format("{}:{}", origin_.string(), mark.line + 1) : origin_.string();
    throw InfervisorError(
        ErrorCode::kInvalidArgument,
        fmt::format("{}: {}: {}", where, key, fmt::format(format, std::forward<Args>(args)...)));
  }

  const std::filesystem::path& origin() const { return origin_; }

 private:
  std::filesystem::path origin_;
};

void reject_unknown_keys(const Reporter& report, const YAML::Node& map, std::string_view where,
                         std::initializer_list<std::string_view> known) {
  for (const auto& entry : map) {
    // YAML allows a list or a map as a key ("? [a, b]"); as<std::string>() would throw yaml-cpp's
    // own exception, outside parse_config's translation of those at the top level.
    if (!entry.first.IsScalar()) {
      report.fail(entry.first, where.empty() ? "(top level)" : where.substr(0, where.size() - 1),
                  "a key must be a plain name, not a list or a map");
    }
    const auto& key = entry.first.Scalar();
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      report.fail(entry.first, fmt::format("{}{}", where, key), "unknown key (known: {})",
                  fmt::join(known, ", "));
    }
  }
}

std::string scalar(const Reporter& report, const YAML::Node& node, std::string_view key) {
  if (!node.IsScalar()) report.fail(node, key, "expected a single value");
  return node.Scalar();
}

template <class Int>
Int integer(const Reporter& report, const YAML::Node& node, std::string_view key, Int min,
            Int max) {
  const auto text = scalar(report, node, key);
  Int value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < min || value > max) {
    report.fail(node, key, "expected a whole number from {} to {}, got '{}'", min, max, text);
  }
  return value;
}

std::chrono::microseconds duration(const Reporter& report, const YAML::Node& node,
                                   std::string_view key) {
  const auto text = scalar(report, node, key);
  const auto value = parse_duration(text);
  if (!value) report.fail(node, key, "expected a duration like 30s, 500ms or 50us, got '{}'", text);
  return *value;
}

std::uint64_t byte_size(const Reporter& report, const YAML::Node& node, std::string_view key,
                        std::uint64_t min, std::uint64_t max) {
  const auto text = scalar(report, node, key);
  const auto value = parse_byte_size(text);
  if (!value || *value < min || *value > max) {
    report.fail(node, key, "expected a size from {} to {} bytes (e.g. 64MiB), got '{}'", min, max,
                text);
  }
  return *value;
}

bool boolean(const Reporter& report, const YAML::Node& node, std::string_view key) {
  const auto text = scalar(report, node, key);
  if (text == "true" || text == "yes" || text == "on") return true;
  if (text == "false" || text == "no" || text == "off") return false;
  report.fail(node, key, "expected true or false, got '{}'", text);
}

std::chrono::milliseconds millis(const Reporter& report, const YAML::Node& node,
                                 std::string_view key, std::chrono::milliseconds min,
                                 std::chrono::milliseconds max) {
  const auto value =
      std::chrono::duration_cast<std::chrono::milliseconds>(duration(report, node, key));
  if (value < min || value > max) {
    report.fail(node, key, "expected a duration from {} ms to {} ms, got '{}'", min.count(),
                max.count(), node.Scalar());
  }
  return value;
}

// `on_worker_death`, `max_job_retries`, ... (issue 7), each checked against the others.
SupervisionPolicy supervision(const Reporter& report, const YAML::Node& node,
                              const std::string& named) {
  using std::chrono::milliseconds;
  SupervisionPolicy policy;
  const auto key = [&](const char* name) { return fmt::format("{}.{}", named, name); };
  if (node["on_worker_death"]) {
    const auto text = scalar(report, node["on_worker_death"], key("on_worker_death"));
    if (text == "retry")
      policy.on_worker_death = SupervisionPolicy::OnDeath::kRetry;
    else if (text == "fail")
      policy.on_worker_death = SupervisionPolicy::OnDeath::kFail;
    else
      report.fail(node["on_worker_death"], key("on_worker_death"),
                  "expected 'retry' or 'fail', got '{}'", text);
  }
  if (node["max_job_retries"]) {
    policy.max_job_retries =
        integer<int>(report, node["max_job_retries"], key("max_job_retries"), 0, 100);
  }
  const milliseconds day{24 * 3600 * 1000};
  auto set = [&](const char* name, milliseconds& field, milliseconds min) {
    if (node[name]) field = millis(report, node[name], key(name), min, day);
  };
  set("queue_timeout", policy.queue_timeout, milliseconds(1));
  set("job_timeout", policy.job_timeout, milliseconds(1));
  set("min_uptime", policy.min_uptime, milliseconds(0));
  set("restart_backoff_initial", policy.restart_backoff_initial, milliseconds(0));
  set("restart_backoff_max", policy.restart_backoff_max, milliseconds(0));
  set("restart_window", policy.restart_window, milliseconds(1));
  if (policy.restart_backoff_max < policy.restart_backoff_initial) {
    report.fail(node["restart_backoff_max"] ? node["restart_backoff_max"] : node,
                key("restart_backoff_max"), "must be at least restart_backoff_initial ({} ms)",
                policy.restart_backoff_initial.count());
  }
  if (node["max_restarts"]) {
    policy.max_restarts =
        integer<int>(report, node["max_restarts"], key("max_restarts"), 0, 1'000'000);
  }
  if (node["max_jobs_per_worker"]) {
    policy.max_jobs_per_worker = integer<std::uint64_t>(report, node["max_jobs_per_worker"],
                                                        key("max_jobs_per_worker"), 0, 1ull << 62);
  }
  if (node["max_worker_rss"]) {
    policy.max_worker_rss =
        byte_size(report, node["max_worker_rss"], key("max_worker_rss"), 0, 1ull << 50);
  }
  if (node["recycle"]) {
    const auto text = scalar(report, node["recycle"], key("recycle"));
    if (text == "start_first")
      policy.recycle = SupervisionPolicy::Recycle::kStartFirst;
    else if (text == "drain_first")
      policy.recycle = SupervisionPolicy::Recycle::kDrainFirst;
    else
      report.fail(node["recycle"], key("recycle"),
                  "expected 'start_first' or 'drain_first', got '{}'", text);
  }
  return policy;
}

// A Unix permission mode written in octal, e.g. 0660 (YAML would read 0660 as a number too, so
// the text is taken as it stands).
unsigned file_mode(const Reporter& report, const YAML::Node& node, std::string_view key) {
  const auto text = scalar(report, node, key);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 8);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value > 0777) {
    report.fail(node, key, "expected an octal file mode such as 0660, got '{}'", text);
  }
  return value;
}

std::vector<std::string> name_list(const Reporter& report, const YAML::Node& node,
                                   std::string_view key) {
  if (!node.IsSequence()) report.fail(node, key, "expected a list, e.g. [infervisor, 1001]");
  std::vector<std::string> names;
  for (std::size_t i = 0; i < node.size(); ++i) {
    auto name = scalar(report, node[i], fmt::format("{}[{}]", key, i));
    if (name.empty()) report.fail(node[i], fmt::format("{}[{}]", key, i), "is empty");
    names.push_back(std::move(name));
  }
  return names;
}

bool valid_model_name(std::string_view name) {
  if (name.empty() || name.size() > shm::kMaxModelNameBytes) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

// "cpu", "cuda" (every GPU, or those in `gpus`) or "cuda:N"; `every_gpu` says which of the last
// two.
DeviceSpec device(const Reporter& report, const YAML::Node& node, std::string_view key,
                  bool& every_gpu) {
  const auto text = scalar(report, node, key);
  every_gpu = false;
  if (text == "cpu") return DeviceSpec{};
  if (text == "cuda") {
    every_gpu = true;
    return DeviceSpec{DeviceSpec::Kind::kCuda, 0, {}};
  }
  if (text.starts_with("cuda:")) {
    int index = -1;
    const auto digits = std::string_view(text).substr(5);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (ec == std::errc{} && end == digits.data() + digits.size() && index >= 0 && index < 64) {
      return DeviceSpec{DeviceSpec::Kind::kCuda, index, {}};
    }
  }
  report.fail(node, key, "expected 'cpu', 'cuda' (every GPU) or 'cuda:N', got '{}'", text);
}

std::vector<int> gpu_list(const Reporter& report, const YAML::Node& node, std::string_view key) {
  if (!node.IsSequence() || node.size() == 0) {
    report.fail(node, key,
                "expected a non-empty list of GPU indexes (nvidia-smi order), e.g. [0, 2]");
  }
  std::vector<int> gpus;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const int gpu = integer<int>(report, node[i], fmt::format("{}[{}]", key, i), 0, 63);
    if (std::find(gpus.begin(), gpus.end(), gpu) != gpus.end()) {
      report.fail(node[i], fmt::format("{}[{}]", key, i), "GPU {} appears twice", gpu);
    }
    gpus.push_back(gpu);
  }
  return gpus;
}

std::vector<TensorSpec> tensor_specs(const Reporter& report, const YAML::Node& node,
                                     std::string_view key) {
  if (!node.IsSequence() || node.size() == 0) {
    report.fail(node, key, "expected a non-empty list of {{name, dtype, shape}}");
  }
  std::vector<TensorSpec> specs;
  std::set<std::string> names;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const auto& item = node[i];
    const auto where = fmt::format("{}[{}]", key, i);
    if (!item.IsMap()) report.fail(item, where, "expected a map with name, dtype and shape");
    reject_unknown_keys(report, item, where + ".", {"name", "dtype", "shape"});
    for (const char* required : {"name", "dtype", "shape"}) {
      if (!item[required]) report.fail(item, fmt::format("{}.{}", where, required), "is missing");
    }
    TensorSpec spec;
    spec.name = scalar(report, item["name"], where + ".name");
    if (spec.name.empty() || spec.name.size() > shm::kMaxTensorNameBytes) {
      report.fail(item["name"], where + ".name", "must be 1-{} bytes", shm::kMaxTensorNameBytes);
    }
    if (!names.insert(spec.name).second) {
      report.fail(item["name"], where + ".name", "'{}' appears twice", spec.name);
    }
    const auto dtype_text = scalar(report, item["dtype"], where + ".dtype");
    const auto dtype = dtype_from_name(dtype_text);
    if (!dtype) {
      report.fail(item["dtype"], where + ".dtype",
                  "unknown dtype '{}' (BOOL, UINT8, INT8, INT16, INT32, INT64, FP16, BF16, FP32, "
                  "FP64 or their lower-case names)",
                  dtype_text);
    }
    spec.dtype = *dtype;
    const auto& shape = item["shape"];
    if (!shape.IsSequence() || shape.size() > kMaxDims) {
      report.fail(shape, where + ".shape", "expected a list of at most {} dimensions", kMaxDims);
    }
    for (std::size_t d = 0; d < shape.size(); ++d) {
      spec.dims.push_back(integer<std::int64_t>(report, shape[d],
                                                fmt::format("{}.shape[{}]", where, d), kFreeDim,
                                                std::int64_t{1} << 40));
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

std::vector<InstanceGroup> instance_groups(const Reporter& report, const YAML::Node& node,
                                           std::string_view key) {
  std::vector<InstanceGroup> groups;
  auto one = [&](const YAML::Node& item, const std::string& where) {
    if (!item.IsMap()) {
      report.fail(item, where, "expected {{count: N, device: cpu|cuda|cuda:N[, gpus: [..]]}}");
    }
    reject_unknown_keys(report, item, where + ".", {"count", "device", "gpus"});
    InstanceGroup group;
    if (item["count"]) group.count = integer<int>(report, item["count"], where + ".count", 1, 256);
    if (item["device"]) {
      group.device = device(report, item["device"], where + ".device", group.every_gpu);
    }
    if (item["gpus"]) {
      if (!group.every_gpu) {
        report.fail(item["gpus"], where + ".gpus", "needs device: cuda (it lists the GPUs to use)");
      }
      group.gpus = gpu_list(report, item["gpus"], where + ".gpus");
    }
    groups.push_back(group);
  };
  if (node.IsSequence()) {
    if (node.size() == 0) report.fail(node, key, "expected at least one instance group");
    for (std::size_t i = 0; i < node.size(); ++i)
      one(node[i], fmt::format("{}[{}]", key, i));
  } else {
    one(node, std::string(key));
  }
  return groups;
}

// A file named in the config, resolved against the config file's folder; it must exist now, so a
// typo stops the daemon at start instead of failing every worker.
std::filesystem::path existing_file(const Reporter& report, const YAML::Node& node,
                                    std::string_view key) {
  std::filesystem::path path = scalar(report, node, key);
  if (path.empty()) report.fail(node, key, "expected a file name");
  if (path.is_relative()) path = report.origin().parent_path() / path;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    report.fail(node, key, "'{}' is not a readable file", path.string());
  }
  return std::filesystem::absolute(path).lexically_normal();
}

std::vector<std::filesystem::path> libraries(const Reporter& report, const YAML::Node& node,
                                             std::string_view key) {
  if (!node.IsSequence()) report.fail(node, key, "expected a list of shared libraries (.so files)");
  std::vector<std::filesystem::path> files;
  for (std::size_t i = 0; i < node.size(); ++i)
    files.push_back(existing_file(report, node[i], fmt::format("{}[{}]", key, i)));
  return files;
}

// Rows are stacked along the first dimension of every tensor, so each must have a free one.
DynamicBatching dynamic_batching(const Reporter& report, const YAML::Node& node,
                                 const ModelConfig& model, const std::string& where) {
  if (!node.IsMap()) {
    report.fail(node, where,
                "expected a map with max_batch_size, max_queue_delay and "
                "preferred_batch_sizes");
  }
  reject_unknown_keys(report, node, where + ".",
                      {"max_batch_size", "max_queue_delay", "preferred_batch_sizes"});
  if (!node["max_batch_size"]) report.fail(node, where + ".max_batch_size", "is missing");
  DynamicBatching batching;
  batching.max_batch_size =
      integer<std::int64_t>(report, node["max_batch_size"], where + ".max_batch_size", 1, 1 << 20);
  if (node["max_queue_delay"]) {
    batching.max_queue_delay =
        duration(report, node["max_queue_delay"], where + ".max_queue_delay");
    if (batching.max_queue_delay > std::chrono::seconds(10)) {
      report.fail(node["max_queue_delay"], where + ".max_queue_delay", "at most 10s");
    }
  }
  if (const auto& sizes = node["preferred_batch_sizes"]) {
    if (!sizes.IsSequence()) {
      report.fail(sizes, where + ".preferred_batch_sizes", "expected a list of batch sizes");
    }
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      batching.preferred_batch_sizes.push_back(integer<std::int64_t>(
          report, sizes[i], fmt::format("{}.preferred_batch_sizes[{}]", where, i), 1,
          batching.max_batch_size));
    }
    std::sort(batching.preferred_batch_sizes.begin(), batching.preferred_batch_sizes.end());
    const auto& preferred = batching.preferred_batch_sizes;
    if (std::adjacent_find(preferred.begin(), preferred.end()) != preferred.end()) {
      report.fail(sizes, where + ".preferred_batch_sizes", "lists a size twice");
    }
  }
  auto check = [&](const std::vector<TensorSpec>& specs, std::string_view kind) {
    for (const auto& spec : specs) {
      if (spec.dims.empty() || spec.dims[0] != kFreeDim) {
        report.fail(node, where,
                    "batches rows along the first dimension of every input and output, so each "
                    "needs a free first dimension (-1), but {} '{}' has shape [{}]",
                    kind, spec.name, fmt::join(spec.dims, ", "));
      }
    }
  };
  check(model.inputs, "input");
  check(model.outputs, "output");
  return batching;
}

ModelConfig model(const Reporter& report, const YAML::Node& node, std::size_t index) {
  const auto where = fmt::format("models[{}]", index);
  if (!node.IsMap()) report.fail(node, where, "expected a map");
  reject_unknown_keys(report, node, where + ".",
                      {"name",
                       "version",
                       "path",
                       "instances",
                       "threads",
                       "interop_threads",
                       "ring_size",
                       "max_inflight",
                       "max_queue",
                       "priority_levels",
                       "default_priority_level",
                       "inputs",
                       "outputs",
                       "libraries",
                       "on_worker_death",
                       "max_job_retries",
                       "queue_timeout",
                       "job_timeout",
                       "min_uptime",
                       "restart_backoff_initial",
                       "restart_backoff_max",
                       "max_restarts",
                       "restart_window",
                       "max_jobs_per_worker",
                       "max_worker_rss",
                       "recycle",
                       "dynamic_batching"});
  for (const char* required : {"name", "path", "inputs", "outputs"}) {
    if (!node[required]) report.fail(node, fmt::format("{}.{}", where, required), "is missing");
  }
  ModelConfig model;
  model.name = scalar(report, node["name"], where + ".name");
  if (!valid_model_name(model.name)) {
    report.fail(node["name"], where + ".name", "'{}' must be 1-{} characters of [A-Za-z0-9_.-]",
                model.name, shm::kMaxModelNameBytes);
  }
  const auto named = fmt::format("models.{}", model.name);
  if (node["version"]) {
    model.version = scalar(report, node["version"], named + ".version");
    if (!valid_model_name(model.version)) {
      report.fail(node["version"], named + ".version", "'{}' must be [A-Za-z0-9_.-]",
                  model.version);
    }
  }
  model.path = existing_file(report, node["path"], named + ".path");
  if (node["instances"]) {
    model.instance_groups = instance_groups(report, node["instances"], named + ".instances");
  }
  if (node["threads"]) {
    model.intra_op_threads = integer<int>(report, node["threads"], named + ".threads", 0, 1024);
  }
  if (node["interop_threads"]) {
    model.interop_threads =
        integer<int>(report, node["interop_threads"], named + ".interop_threads", 0, 1024);
  }
  if (node["ring_size"]) {
    model.ring_bytes =
        byte_size(report, node["ring_size"], named + ".ring_size", shm::kMinRingBytes, 64ull << 30);
  }
  if (node["max_inflight"]) {
    model.max_inflight_per_worker =
        integer<int>(report, node["max_inflight"], named + ".max_inflight", 1, 4096);
  }
  if (node["max_queue"]) {
    model.max_queue =
        integer<std::size_t>(report, node["max_queue"], named + ".max_queue", 1, 1u << 24);
  }
  if (node["priority_levels"]) {
    model.priority_levels =
        integer<int>(report, node["priority_levels"], named + ".priority_levels", 1, 1 << 16);
  }
  if (node["default_priority_level"]) {
    if (model.priority_levels == 0) {
      report.fail(node["default_priority_level"], named + ".default_priority_level",
                  "needs priority_levels");
    }
    model.default_priority_level =
        integer<int>(report, node["default_priority_level"], named + ".default_priority_level", 1,
                     model.priority_levels);
  }
  if (model.priority_levels > 0 && model.default_priority_level == 0)
    model.default_priority_level = model.priority_levels;
  model.inputs = tensor_specs(report, node["inputs"], named + ".inputs");
  model.outputs = tensor_specs(report, node["outputs"], named + ".outputs");
  if (node["libraries"]) {
    model.libraries = libraries(report, node["libraries"], named + ".libraries");
  }
  model.supervision = supervision(report, node, named);
  if (node["dynamic_batching"]) {
    model.batching =
        dynamic_batching(report, node["dynamic_batching"], model, named + ".dynamic_batching");
    if (!node["max_inflight"]) model.max_inflight_per_worker = ModelConfig::kBatchesInFlight;
  }
  return model;
}

std::optional<TcpListen> tcp_listen(const Reporter& report, const YAML::Node& node) {
  const auto text = scalar(report, node, "tcp");
  if (text == "off" || text == "false" || text.empty()) return std::nullopt;
  TcpListen listen;
  std::string_view port_text = text;
  if (const auto colon = text.rfind(':'); colon != std::string::npos) {
    listen.host = text.substr(0, colon);
    if (listen.host.size() > 2 && listen.host.front() == '[' && listen.host.back() == ']') {
      listen.host = listen.host.substr(1, listen.host.size() - 2);
    }
    port_text = std::string_view(text).substr(colon + 1);
  }
  boost::system::error_code ec;
  boost::asio::ip::make_address(listen.host, ec);
  int port = 0;
  const auto [end, parse_ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec || parse_ec != std::errc{} || end != port_text.data() + port_text.size() || port < 1 ||
      port > 65535) {
    report.fail(node, "tcp", "expected 'off', PORT or ADDRESS:PORT (e.g. 127.0.0.1:8000), got '{}'",
                text);
  }
  listen.port = static_cast<std::uint16_t>(port);
  return listen;
}

// A GPU job is long for a spin but cheap in CPU: with GPU workers, both sides spin through it
// unless the config says otherwise.
void apply_gpu_spin_defaults(DaemonConfig& config, bool spin_set, bool spin_while_busy_set) {
  const bool gpu = std::any_of(config.models.begin(), config.models.end(), [](const auto& model) {
    return std::any_of(
        model.instance_groups.begin(), model.instance_groups.end(),
        [](const InstanceGroup& group) { return group.device.kind == DeviceSpec::Kind::kCuda; });
  });
  if (!gpu) return;
  if (!spin_set) config.spin = DaemonConfig::kGpuSpin;
  if (!spin_while_busy_set) config.spin_while_busy = DaemonConfig::kGpuSpinWhileBusy;
}

}  // namespace

std::string DeviceSpec::to_string() const {
  return kind == Kind::kCpu ? std::string("cpu") : fmt::format("cuda:{}", index);
}

const ModelConfig* DaemonConfig::find_model(std::string_view name) const noexcept {
  for (const auto& model : models) {
    if (model.name == name) return &model;
  }
  return nullptr;
}

std::optional<std::uint64_t> parse_byte_size(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end == text.data()) return std::nullopt;
  const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  std::uint64_t multiplier = 0;
  if (unit.empty() || unit == "B")
    multiplier = 1;
  else if (unit == "KiB" || unit == "K")
    multiplier = 1ull << 10;
  else if (unit == "MiB" || unit == "M")
    multiplier = 1ull << 20;
  else if (unit == "GiB" || unit == "G")
    multiplier = 1ull << 30;
  else
    return std::nullopt;
  std::uint64_t bytes = 0;
  if (__builtin_mul_overflow(value, multiplier, &bytes)) return std::nullopt;
  return bytes;
}

std::optional<std::chrono::microseconds> parse_duration(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end == text.data() || value > (1ull << 40)) return std::nullopt;
  const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  const auto count = static_cast<std::int64_t>(value);
  using namespace std::chrono;
  if (unit.empty() || unit == "s") return duration_cast<microseconds>(seconds(count));
  if (unit == "ms") return duration_cast<microseconds>(milliseconds(count));
  if (unit == "us") return microseconds(count);
  if (unit == "m") return duration_cast<microseconds>(minutes(count));
  return std::nullopt;
}

int total_instances(const ModelConfig& model) noexcept {
  int total = 0;
  for (const auto& group : model.instance_groups)
    total += group.count;
  return total;
}

ThreadPlan thread_plan(const DaemonConfig& config, const ModelConfig& model,
                       DeviceSpec::Kind device, unsigned cores) {
  int workers = 0;
  for (const auto& each : config.models)
    workers += total_instances(each);
  const int share = std::max(1, static_cast<int>(cores) / std::max(1, workers));
  ThreadPlan plan;
  plan.intra_op = model.intra_op_threads > 0          ? model.intra_op_threads
                  : device == DeviceSpec::Kind::kCuda ? std::min(kGpuIntraOpThreads, share)
                                                      : share;
  plan.inter_op = model.interop_threads > 0 ? model.interop_threads : 1;
  return plan;
}

DaemonConfig parse_config(std::string_view yaml_text, const std::filesystem::path& origin) {
  const Reporter report(origin);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& error) {
    throw InfervisorError(
        ErrorCode::kInvalidArgument,
        fmt::format("{}:{}: not valid YAML: {}", origin.string(), error.mark.line + 1, error.msg));
  }
  if (!root.IsMap()) report.fail(root, "(top level)", "expected a map of settings");
  reject_unknown_keys(report, root, "",
                      {"socket",
                       "tcp",
                       "log_level",
                       "startup_timeout",
                       "drain_timeout",
                       "shutdown_timeout",
                       "spin",
                       "spin_while_busy",
                       "max_request_size",
                       "max_json_request_size",
                       "max_queued_bytes",
                       "max_connections",
                       "socket_group",
                       "socket_mode",
                       "allow_uids",
                       "allow_groups",
                       "tcp_admin",
                       "exit_on_error",
                       "client_shared_memory",
                       "client_shared_memory_max_regions",
                       "client_shared_memory_max_bytes",
                       "shm_prefix",
                       "worker_path",
                       "models"});
  DaemonConfig config;
  config.source = origin;
  try {
    config.socket_path = root["socket"]
                             ? std::filesystem::path(scalar(report, root["socket"], "socket"))
                             : default_socket_path();
    if (root["tcp"]) config.tcp = tcp_listen(report, root["tcp"]);
    if (root["log_level"]) {
      const auto text = scalar(report, root["log_level"], "log_level");
      const auto level = parse_log_level(text);
      if (!level) {
        report.fail(root["log_level"], "log_level",
                    "expected trace, debug, info, warn, error, critical or off, got '{}'", text);
      }
      config.log_level = *level;
    }
    auto millis = [&](const char* key) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
          duration(report, root[key], key));
    };
    if (root["startup_timeout"]) config.startup_timeout = millis("startup_timeout");
    if (root["drain_timeout"]) config.drain_timeout = millis("drain_timeout");
    if (root["shutdown_timeout"]) config.shutdown_timeout = millis("shutdown_timeout");
    if (root["spin"]) config.spin = duration(report, root["spin"], "spin");
    if (config.spin > std::chrono::milliseconds(10)) {
      report.fail(root["spin"], "spin", "at most 10ms (it burns a core while idle)");
    }
    if (root["spin_while_busy"])
      config.spin_while_busy = duration(report, root["spin_while_busy"], "spin_while_busy");
    if (config.spin_while_busy > std::chrono::milliseconds(100)) {
      report.fail(root["spin_while_busy"], "spin_while_busy", "at most 100ms");
    }
    if (root["max_request_size"]) {
      config.max_request_bytes =
          byte_size(report, root["max_request_size"], "max_request_size", 4096, 64ull << 30);
    }
    if (root["max_json_request_size"]) {
      config.max_json_request_bytes = byte_size(report, root["max_json_request_size"],
                                                "max_json_request_size", 4096, 64ull << 30);
    }
    if (root["max_queued_bytes"]) {
      config.max_queued_bytes =
          byte_size(report, root["max_queued_bytes"], "max_queued_bytes", 4096, 1ull << 50);
    }
    if (root["max_connections"]) {
      config.max_connections =
          integer<std::size_t>(report, root["max_connections"], "max_connections", 1, 1u << 20);
    }
    if (root["socket_group"])
      config.socket_group = scalar(report, root["socket_group"], "socket_group");
    if (root["socket_mode"]) {
      config.socket_mode = file_mode(report, root["socket_mode"], "socket_mode");
      if ((config.socket_mode & 0600) != 0600) {
        report.fail(root["socket_mode"], "socket_mode",
                    "the owner needs read and write (0600 at least)");
      }
    }
    if (const auto& uids = root["allow_uids"]) {
      if (!uids.IsSequence()) report.fail(uids, "allow_uids", "expected a list of user ids");
      for (std::size_t i = 0; i < uids.size(); ++i) {
        config.allow_uids.push_back(integer<unsigned>(
            report, uids[i], fmt::format("allow_uids[{}]", i), 0, 4'294'967'294u));
      }
    }
    if (root["allow_groups"])
      config.allow_groups = name_list(report, root["allow_groups"], "allow_groups");
    if (root["tcp_admin"]) config.tcp_admin = boolean(report, root["tcp_admin"], "tcp_admin");
    if (root["exit_on_error"])
      config.exit_on_error = boolean(report, root["exit_on_error"], "exit_on_error");
    if (root["client_shared_memory"]) {
      config.client_shared_memory =
          boolean(report, root["client_shared_memory"], "client_shared_memory");
    }
    if (root["client_shared_memory_max_regions"]) {
      config.client_shared_memory_max_regions =
          integer<std::size_t>(report, root["client_shared_memory_max_regions"],
                               "client_shared_memory_max_regions", 1, 1u << 16);
    }
    if (root["client_shared_memory_max_bytes"]) {
      config.client_shared_memory_max_bytes =
          byte_size(report, root["client_shared_memory_max_bytes"],
                    "client_shared_memory_max_bytes", 4096, 1ull << 50);
    }
    if (root["shm_prefix"]) {
      config.shm_prefix = scalar(report, root["shm_prefix"], "shm_prefix");
      const bool ok = !config.shm_prefix.empty() && config.shm_prefix.size() <= 32 &&
                      std::all_of(config.shm_prefix.begin(), config.shm_prefix.end(), [](char c) {
                        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
                      });
      if (!ok)
        report.fail(root["shm_prefix"], "shm_prefix", "must be 1-32 characters of [A-Za-z0-9_-]");
    }
    if (root["worker_path"])
      config.worker_path = scalar(report, root["worker_path"], "worker_path");
    const auto& models = root["models"];
    if (!models || !models.IsSequence() || models.size() == 0) {
      report.fail(models ? models : root, "models", "expected a non-empty list of models");
    }
    std::set<std::string> names;
    for (std::size_t i = 0; i < models.size(); ++i) {
      auto parsed = model(report, models[i], i);
      if (parsed.name == "stats") {
        // GET /v2/models/stats is every model's statistics.
        report.fail(models[i]["name"], fmt::format("models[{}].name", i),
                    "'stats' is reserved (GET /v2/models/stats lists every model's statistics)");
      }
      if (!names.insert(parsed.name).second) {
        report.fail(models[i]["name"], fmt::format("models[{}].name", i), "'{}' appears twice",
                    parsed.name);
      }
      config.models.push_back(std::move(parsed));
    }
    apply_gpu_spin_defaults(config, root["spin"].IsDefined(), root["spin_while_busy"].IsDefined());
  } catch (const YAML::Exception& error) {
    throw InfervisorError(ErrorCode::kInvalidArgument, fmt::format("{}:{}: {}", origin.string(),
                                                                   error.mark.line + 1, error.msg));
  }
  return config;
}

DaemonConfig load_config(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw InfervisorError(ErrorCode::kInvalidArgument,
                          fmt::format("{}: cannot read the config file", file.string()));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), std::filesystem::absolute(file));
}

}  // namespace infervisor::supervisor
