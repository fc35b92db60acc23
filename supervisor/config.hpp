// The daemon's configuration: what `infervisord --config FILE` reads (YAML). Every key is checked
// at start; an unknown key or a bad value is an error naming the file, the key and the reason.
#pragma once

#include <spdlog/common.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/tensor_spec.hpp"

namespace infervisor::supervisor {

struct DeviceSpec {
  enum class Kind { kCpu, kCuda };
  Kind kind = Kind::kCpu;
  int index = 0;  // for kCuda

  std::string to_string() const;  // "cpu", "cuda:0"
  bool operator==(const DeviceSpec&) const = default;
};

struct InstanceGroup {
  int count = 1;
  DeviceSpec device;
};

struct ModelConfig {
  std::string name;
  std::string version = "1";
  std::filesystem::path path;  // the TorchScript file, resolved against the config file's folder
  std::vector<InstanceGroup> instance_groups{InstanceGroup{}};
  int intra_op_threads = 0;                // 0: floor(cores / CPU workers), at least 1
  std::uint64_t ring_bytes = 64ull << 20;  // each direction
  int max_inflight_per_worker = 16;        // jobs written to a worker's ring, not yet answered
  std::size_t max_queue = 1024;            // jobs waiting for a worker; beyond: 503
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  // Custom operator libraries the worker dlopen()s, in this order, before loading the model;
  // absolute, resolved against the config file's folder.
  std::vector<std::filesystem::path> libraries;
};

struct TcpListen {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
};

struct DaemonConfig {
  std::filesystem::path source;  // the file it came from, for messages
  std::filesystem::path socket_path;
  std::optional<TcpListen> tcp;
  spdlog::level::level_enum log_level = spdlog::level::info;
  std::chrono::milliseconds startup_timeout{120'000};
  std::chrono::milliseconds drain_timeout{30'000};     // finishing in-flight jobs on SIGTERM
  std::chrono::milliseconds shutdown_timeout{10'000};  // SHUTDOWN_ACK, then SIGKILL
  std::chrono::microseconds spin{50};                  // spin before parking, both sides
  // While jobs are in flight the daemon polls for their answers for about a job's time, up to
  // this; a spin shorter than the job would park it, and waking it costs more than the job.
  std::chrono::microseconds spin_while_busy{1000};
  std::uint64_t max_request_bytes = 256ull << 20;  // HTTP body limit
  std::string shm_prefix = "infervisor";
  std::filesystem::path worker_path;  // infervisor-worker; default: beside infervisord
  std::vector<ModelConfig> models;

  const ModelConfig* find_model(std::string_view name) const noexcept;
};

// Throws InfervisorError("FILE: KEY: reason") on any problem.
DaemonConfig load_config(const std::filesystem::path& file);
DaemonConfig parse_config(std::string_view yaml_text, const std::filesystem::path& origin);

// "64MiB", "1GiB", "65536" -> bytes; "30s", "500ms", "50us", "2m", "10" (seconds) -> duration.
std::optional<std::uint64_t> parse_byte_size(std::string_view text);
std::optional<std::chrono::microseconds> parse_duration(std::string_view text);

// Intra-op threads each worker of `model` gets: its own setting, or floor(cores / CPU workers of
// all models), at least 1, so that workers never oversubscribe the machine.
int effective_threads(const DaemonConfig& config, const ModelConfig& model, unsigned cores);
int total_instances(const ModelConfig& model) noexcept;

}  // namespace infervisor::supervisor
