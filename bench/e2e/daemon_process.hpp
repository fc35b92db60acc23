// The infervisord under test, started as a user would start it: a config file of its own
// (the example MLP, its own socket and shm prefix, the build's worker), `infervisord --config
// FILE`, stopped with SIGTERM. Its log goes to a file, quoted when something fails.
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
  std::filesystem::path model;    // the MLP, served as "mlp" with x, y: FP32 [-1, 256]
  int workers = 2;
  std::string spin;                 // the config's `spin`; empty: the daemon's default
  std::string spin_while_busy;      // the config's `spin_while_busy`; empty: the default
  std::optional<int> max_inflight;  // the model's `max_inflight`; nullopt: the default
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
  std::string log_tail(std::size_t bytes = 2000) const;

 private:
  TempFolder folder_;  // declared first: it outlives the process that uses it
  std::filesystem::path socket_;
  std::filesystem::path log_;
  ChildProcess process_;
};

}  // namespace infervisor::bench::e2e
