// The infervisord under test, started as a user would start it: a config file of its own
// (one model, by default the example MLP on the CPU; its own socket and shm prefix; the build's
// worker), `infervisord --config FILE`, stopped with SIGTERM. Its log goes to a file, quoted when
// something fails. The GPU benchmark (bench/gpu) starts its daemons with this too.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "bench/e2e/temp_folder.hpp"
#include "common/child_process.hpp"

namespace infervisor::bench::e2e {

struct DaemonSettings {
  std::filesystem::path bin_dir;  // infervisord and infervisor-worker
  std::filesystem::path model;    // the TorchScript file
  std::string model_name = "mlp";
  std::string input = "{name: x, dtype: FP32, shape: [-1, 256]}";   // the model's one input
  std::string output = "{name: y, dtype: FP32, shape: [-1, 256]}";  // and its one output
  std::string device = "cpu";                                       // the instance group's device
  int workers = 2;
  std::string log_level = "info";
  std::string model_extra;          // more keys of the model, "    key: value\n" lines
  std::string spin;                 // the config's `spin`; empty: the daemon's default
  std::string spin_while_busy;      // the config's `spin_while_busy`; empty: the default
  std::optional<int> max_inflight;  // the model's `max_inflight`; nullopt: the default
  std::string daemon_extra;         // more top-level keys, "key: value\n" lines
};

class DaemonProcess {
 public:
  // Writes the config and spawns the daemon (not waiting for it). Throws std::system_error.
  explicit DaemonProcess(const DaemonSettings& settings);
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;
  // Stops a daemon still running (SIGTERM, then SIGKILL after 10 s).
  ~DaemonProcess();

  // Polls GET /v2/health/ready until it answers 200. Throws std::runtime_error (with the log's
  // tail) if the daemon exits first or `timeout` passes.
  void wait_ready(std::chrono::seconds timeout);
  // SIGTERM, then waits for the exit; returns how it ended. Throws std::runtime_error if it
  // does not exit within `timeout` (the destructor then kills it).
  ExitStatus stop(std::chrono::seconds timeout);

  pid_t pid() const noexcept { return process_.pid(); }
  // The daemon's children now: its workers.
  std::vector<pid_t> worker_pids() const;
  const std::filesystem::path& socket() const noexcept { return socket_; }
  const std::filesystem::path& log_path() const noexcept { return log_; }
  std::string log_tail(std::size_t bytes = 2000) const;

 private:
  TempFolder folder_;  // declared first: it outlives the process that uses it
  std::filesystem::path socket_;
  std::filesystem::path log_;
  ChildProcess process_;
};

}  // namespace infervisor::bench::e2e
