// A child process for a test: started with posix_spawn, killed and reaped on destruction unless
// the test saw it exit. One RAII object per child, so a failing test leaves no process behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace infervisor::worker::testing {

class SpawnedProcess {
 public:
  // Starts `path` with `args` (argv[1..]), inheriting stdout and stderr. Throws on failure.
  SpawnedProcess(const std::string& path, const std::vector<std::string>& args);
  SpawnedProcess(SpawnedProcess&& other) noexcept;
  SpawnedProcess& operator=(SpawnedProcess&&) = delete;
  SpawnedProcess(const SpawnedProcess&) = delete;
  SpawnedProcess& operator=(const SpawnedProcess&) = delete;
  ~SpawnedProcess();

  pid_t pid() const noexcept { return pid_; }

  // The wait status once the child has exited (it is reaped then), else nullopt. Never blocks.
  std::optional<int> poll();
  // Like poll(), waiting up to `timeout` for the exit.
  std::optional<int> wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// "exited with status 3", "killed by signal 9": for assertion messages.
std::string describe_wait_status(int status);

}  // namespace infervisor::worker::testing
