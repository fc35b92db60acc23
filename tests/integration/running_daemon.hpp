// A real infervisord for a test: its own temporary folder, socket and shm prefix, started as a
// user would start it (`infervisord --config FILE`) and stopped with SIGTERM.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "client/client.hpp"
#include "common/child_process.hpp"

namespace infervisor::testing {

std::filesystem::path models_dir();
std::filesystem::path bin_dir();

class RunningDaemon {
 public:
  // `models_yaml` is the config's `models:` list; `extra_yaml` adds top-level settings.
  explicit RunningDaemon(const std::string& models_yaml, const std::string& extra_yaml = "");
  ~RunningDaemon();
  RunningDaemon(const RunningDaemon&) = delete;
  RunningDaemon& operator=(const RunningDaemon&) = delete;

  // Starts the daemon (not waiting for readiness).
  void start();
  // Waits until /v2/health/ready answers 200; false if the daemon exits or `timeout` passes.
  bool wait_ready(std::chrono::seconds timeout = std::chrono::seconds(60));
  // SIGTERM, then waits for the exit.
  ExitStatus stop(std::chrono::seconds timeout = std::chrono::seconds(60));
  // SIGKILL: no chance to clean up, as after a crash or an OOM kill.
  ExitStatus kill_hard();
  // Waits for the daemon to exit on its own; nullopt on timeout.
  std::optional<ExitStatus> wait_exit(std::chrono::seconds timeout);

  client::Client client(std::chrono::milliseconds request_timeout = std::chrono::seconds(60)) const;
  const std::filesystem::path& socket() const noexcept { return socket_; }
  const std::filesystem::path& folder() const noexcept { return folder_; }
  const std::string& shm_prefix() const noexcept { return shm_prefix_; }
  pid_t pid() const noexcept { return process_.pid(); }
  std::string log() const;
  // How often `what` appears in the log, and a wait (polling the log) until it appears `count`
  // times: false if `timeout` passes first.
  std::size_t log_count(std::string_view what) const;
  bool wait_for_log(std::string_view what, std::size_t count,
                    std::chrono::seconds timeout = std::chrono::seconds(30)) const;
  // Segments of this daemon still in /dev/shm.
  std::vector<std::string> leftover_segments() const;
  // The worker processes it runs now.
  std::vector<pid_t> worker_pids() const;

 private:
  std::filesystem::path folder_;
  std::filesystem::path socket_;
  std::filesystem::path config_;
  std::string shm_prefix_;
  ChildProcess process_;
};

}  // namespace infervisor::testing
