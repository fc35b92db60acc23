// One spawned child process: posix_spawn (exec, never fork-only: a caller with threads must not
// copy itself), a pidfd for event loops, and a destructor that kills and reaps it, so no path
// leaves a zombie or an orphan behind. The daemon spawns its workers with it; tests and
// benchmarks spawn their peers with it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/unique_fd.hpp"

namespace infervisor {

// How a child ended, as waitpid reported it.
struct ExitStatus {
  int raw = 0;

  bool exited() const noexcept;
  int exit_code() const noexcept;  // when exited()
  bool killed_by(int signal_number) const noexcept;
  bool success() const noexcept { return exited() && exit_code() == 0; }
  // "exited with status 3", "killed by signal 9 (Killed)".
  std::string describe() const;
};

struct SpawnOptions {
  // Descriptors that stay open in the child under the same numbers; every other descriptor is
  // close-on-exec (or should be) and stays behind.
  std::vector<int> inherit_fds;
  // When >= 0, become the child's standard input, output or error.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  // In its own process group, a terminal's Ctrl-C reaches the parent only.
  bool own_process_group = false;
  // NAME=VALUE entries that replace (or add to) the parent's environment in the child; a later
  // entry for the same NAME wins. E.g. CUDA_VISIBLE_DEVICES=GPU-... for a GPU worker.
  std::vector<std::string> environment;
};

class ChildProcess {
 public:
  // Runs `executable` with `args` (argv[1..]) and the parent's environment (changed by
  // options.environment), with default signal dispositions and an empty signal mask. Throws
  // InfervisorError if it cannot.
  static ChildProcess spawn(const std::filesystem::path& executable,
                            const std::vector<std::string>& args, const SpawnOptions& options = {});

  ChildProcess() = default;
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const noexcept { return pid_; }
  // Readable once the child has exited; for an event loop.
  int pidfd() const noexcept { return pidfd_.get(); }
  bool running() const noexcept { return pid_ > 0 && !status_; }

  // Does nothing once the child is reaped: its pid may belong to someone else by then.
  void signal(int signal_number) const noexcept;
  // Reaps the child if it has exited; its status then, and on every later call.
  std::optional<ExitStatus> try_reap() noexcept;
  ExitStatus wait() noexcept;
  // Like wait(), giving up after `limit` (a guard against a hung child, not a timing check).
  std::optional<ExitStatus> wait_for(std::chrono::milliseconds limit) noexcept;

 private:
  void kill_and_reap() noexcept;

  pid_t pid_ = -1;
  UniqueFd pidfd_;
  std::optional<ExitStatus> status_;
};

}  // namespace infervisor
