// One spawned child process: posix_spawn (exec, never fork-only), a pidfd for the event loop, and
// a destructor that kills and reaps it, so no path leaves a zombie or an orphan behind.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/unique_fd.hpp"

namespace infervisor::supervisor {

class ChildProcess {
 public:
  // Spawns `executable` with `args` (argv[1..]) in its own process group, so a terminal's Ctrl-C
  // reaches the daemon (which drains) and not the workers. Only `inherit_fds` stay open in the
  // child; every other descriptor is close-on-exec. Throws InfervisorError.
  static ChildProcess spawn(const std::filesystem::path& executable,
                            const std::vector<std::string>& args, std::span<const int> inherit_fds);

  ChildProcess() = default;
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const noexcept { return pid_; }
  // Readable once the child has exited; for the event loop.
  int pidfd() const noexcept { return pidfd_.get(); }
  bool running() const noexcept { return pid_ > 0 && !status_; }

  void signal(int signal_number) const noexcept;
  // Reaps the child if it has exited; returns its wait status then (and on every later call).
  std::optional<int> try_reap() noexcept;
  // Blocks until the child exits; returns its wait status.
  int wait() noexcept;

 private:
  void kill_and_reap() noexcept;

  pid_t pid_ = -1;
  UniqueFd pidfd_;
  std::optional<int> status_;
};

// "exited with status 3", "killed by signal 9 (Killed)".
std::string describe_wait_status(int status);

}  // namespace infervisor::supervisor
