// The benchmark's second process: this same executable, spawned with "--peer <role> ...". The
// destructor SIGKILLs and reaps a peer that has not ended, so an aborted run leaves none behind.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/child_process.hpp"

namespace infervisor::bench {

class PeerProcess {
 public:
  // Spawns "<this executable> --peer <args...>" with posix_spawn and pins it to `cpu` if given.
  // `stdin_fd` >= 0 becomes the peer's standard input (the socket floor hands it one end of a
  // socketpair that way). Throws InfervisorError if it cannot.
  // `inherit_fd` >= 0 stays open in the peer under the same number (an eventfd to ring).
  PeerProcess(const std::vector<std::string>& args, std::optional<int> cpu, int stdin_fd = -1,
              int inherit_fd = -1);
  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;

  pid_t pid() const noexcept { return child_.pid(); }
  // Waits for the peer to end; throws std::runtime_error unless it exited with 0.
  void wait_success();

 private:
  ChildProcess child_;  // killed and reaped on destruction if it has not ended
};

}  // namespace infervisor::bench
