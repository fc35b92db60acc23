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
  // kCuda: the GPU's position in nvidia-smi order (PCI bus id) among the GPUs the daemon's own
  // CUDA_VISIBLE_DEVICES leaves visible.
  int index = 0;
  // kCuda, once placed (gpu_placement.hpp): the GPU's UUID, which becomes the worker's
  // CUDA_VISIBLE_DEVICES, so the worker sees its one GPU as cuda:0.
  std::string gpu_uuid;

  std::string to_string() const;  // "cpu", "cuda:0"
  bool operator==(const DeviceSpec&) const = default;
};

struct InstanceGroup {
  int count = 1;
  DeviceSpec device;
  // `device: cuda`: `count` workers on each GPU listed in `gpus` (nvidia-smi indexes), or on every
  // visible GPU when `gpus` is empty. Placement at start replaces such a group by one `cuda:N`
  // group per GPU.
  bool every_gpu = false;
  std::vector<int> gpus;
};

// How a model's workers are supervised (issue 7): what happens to the jobs of a worker that dies,
// when a dead worker is replaced, when the model counts as FAILED, how long a job may take, and
// when a healthy worker is replaced by a fresh one.
struct SupervisionPolicy {
  enum class OnDeath { kRetry, kFail };
  enum class Recycle { kStartFirst, kDrainFirst };
  OnDeath on_worker_death = OnDeath::kRetry;
  int max_job_retries = 1;  // runs after the first of a job whose worker died running it
  std::chrono::milliseconds queue_timeout{30'000};  // a job queued longer gets 503
  std::chrono::milliseconds job_timeout{60'000};    // accepted -> answered, queue time included
  std::chrono::milliseconds min_uptime{10'000};     // READY this long: a death is not "early"
  std::chrono::milliseconds restart_backoff_initial{100};
  std::chrono::milliseconds restart_backoff_max{30'000};
  int max_restarts = 5;  // deaths within restart_window beyond this mark the model FAILED
  std::chrono::milliseconds restart_window{60'000};
  std::uint64_t max_jobs_per_worker = 0;  // 0: never recycle by count
  std::uint64_t max_worker_rss = 0;       // bytes of RssAnon; 0: never recycle by memory
  Recycle recycle = Recycle::kStartFirst;
};

// Dynamic batching (issue 11): queued jobs of one model that agree on every dtype and every
// dimension but the first run as one forward, their rows stacked along the first dimension of
// every input and output (batch_former.hpp says which jobs join, and when a batch goes).
struct DynamicBatching {
  std::int64_t max_batch_size = 0;  // rows in one forward; 0: no batching
  // How long the oldest queued job may wait for others to join a batch that is not yet full.
  std::chrono::microseconds max_queue_delay{0};
  std::vector<std::int64_t> preferred_batch_sizes;  // ascending; such a batch goes at once

  bool enabled() const noexcept { return max_batch_size > 0; }
};

struct ModelConfig {
  std::string name;
  std::string version = "1";
  std::filesystem::path path;  // the TorchScript file, resolved against the config file's folder
  std::vector<InstanceGroup> instance_groups{InstanceGroup{}};
  int intra_op_threads = 0;                // `threads`; 0: see thread_plan()
  int interop_threads = 0;                 // `interop_threads`; 0: see thread_plan()
  std::uint64_t ring_bytes = 64ull << 20;  // each direction
  // Jobs (with dynamic batching: batches) written to a worker's ring, not yet answered.
  int max_inflight_per_worker = 16;
  // With dynamic batching, `max_inflight` defaults to this instead: a batch waiting in a worker's
  // ring can no longer grow, so keep one running and one ready.
  static constexpr int kBatchesInFlight = 2;
  std::size_t max_queue = 1024;  // jobs waiting for a worker; beyond: 503
  // Triton's request `priority`: levels 1 (first) to priority_levels (last); a job waits behind
  // every queued job of its level or a more urgent one, ahead of the rest. 0 levels: arrival order
  // only, and a request that asks for a priority gets 400.
  int priority_levels = 0;
  int default_priority_level = 0;  // for requests without one; 0: priority_levels (the last)
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  // Custom operator libraries the worker dlopen()s, in this order, before loading the model;
  // absolute, resolved against the config file's folder.
  std::vector<std::filesystem::path> libraries;
  SupervisionPolicy supervision;
  DynamicBatching batching;
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
  // With a model on a GPU, `spin` and `spin_while_busy` default to these instead (see
  // bench/README.md, "GPU workers": a GPU job lasts milliseconds but costs its worker little CPU,
  // and on the H200 machine parking and waking around each batch-1 job cost ~0.6 ms).
  static constexpr std::chrono::microseconds kGpuSpin{1000};
  static constexpr std::chrono::microseconds kGpuSpinWhileBusy{20000};
  std::uint64_t max_request_bytes = 256ull << 20;  // HTTP body limit
  // A JSON body is parsed on the event loop: bound it more tightly than binary bodies.
  std::uint64_t max_json_request_bytes = 32ull << 20;
  // Bytes of request bodies held by queued jobs, over every model; beyond: 503.
  std::uint64_t max_queued_bytes = 1ull << 30;
  std::size_t max_connections = 4096;
  // The socket file's group (name or number; empty: the daemon's) and mode.
  std::string socket_group;
  unsigned socket_mode = 0660;
  // Peers allowed on the Unix socket (SO_PEERCRED); both empty: everyone who can open the file.
  std::vector<unsigned> allow_uids;
  std::vector<std::string> allow_groups;  // names or numbers, resolved at start
  bool tcp_admin = false;                 // repository load/unload over TCP too
  bool exit_on_error = true;              // a model that cannot start stops the daemon
  // Triton's system shared-memory extension (client_regions.hpp): off unless asked for.
  bool client_shared_memory = false;
  std::size_t client_shared_memory_max_regions = 128;                      // per uid
  std::uint64_t client_shared_memory_max_bytes = std::uint64_t{64} << 30;  // per uid
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

// libtorch's thread pools in one worker.
struct ThreadPlan {
  int intra_op = 1;  // at::set_num_threads: parallelism inside one operator
  int inter_op = 1;  // at::set_num_interop_threads: torch.jit.fork branches run on these
  bool operator==(const ThreadPlan&) const = default;
};

// GPU workers' default intra-op threads (before the share below caps it). A GPU worker's CPU work
// is launching kernels, which one thread does; chosen from measurements on an H200 (see
// bench/README.md, "GPU workers").
inline constexpr int kGpuIntraOpThreads = 1;

// The threads each worker of `model` on `device` gets: the model's own `threads` and
// `interop_threads` when set; otherwise, so that workers never oversubscribe the machine, each
// worker of every model (CPU or GPU) has a share of floor(cores / workers), at least 1:
//   CPU workers  intra-op = the share
//   GPU workers  intra-op = min(kGpuIntraOpThreads, the share)
//   both         inter-op = 1: a model that forks gets parallel branches only when its config
//                raises interop_threads (and then intra x inter should stay within the share).
ThreadPlan thread_plan(const DaemonConfig& config, const ModelConfig& model,
                       DeviceSpec::Kind device, unsigned cores);
int total_instances(const ModelConfig& model) noexcept;

}  // namespace infervisor::supervisor
