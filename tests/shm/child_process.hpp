// A child process started with posix_spawn, for tests that need a real second process on the other
// side of a segment. The destructor SIGKILLs and reaps a child the test has not waited for, so a
// failing assertion never leaves a peer running or a zombie behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <span>
#include <string>

#include "common/error.hpp"

namespace infervisor::shm::testing {

// How a child ended, as waitpid reported it.
struct ExitStatus {
  int raw = 0;

  bool exited() const noexcept;
  int exit_code() const noexcept;  // meaningful when exited()
  bool killed_by(int signal) const noexcept;
  std::string describe() const;  // "exited with 0", "killed by signal 9"
};

class ChildProcess {
 public:
  // Runs argv[0] (a path) with argv, the test's environment and its standard streams.
  static Result<ChildProcess> spawn(std::span<const std::string> argv) noexcept;

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const noexcept { return pid_; }
  void kill(int signal) const noexcept;

  // The exit status if the child has ended (reaping it), nullopt while it runs.
  std::optional<ExitStatus> try_wait() noexcept;
  // Waits up to `limit` for the child to end: a guard against a hung peer, not a timing check.
  std::optional<ExitStatus> wait_for(std::chrono::milliseconds limit) noexcept;

 private:
  explicit ChildProcess(pid_t pid) noexcept : pid_(pid) {}
  void kill_and_reap() noexcept;

  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;  // set once reaped
};

}  // namespace infervisor::shm::testing
