// The benchmark's second process: this same executable, spawned with "--peer <role> ...". The
// destructor SIGKILLs and reaps a peer that has not ended, so an aborted run leaves none behind.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace infervisor::bench {

class PeerProcess {
 public:
  // Spawns "<this executable> --peer <args...>" with posix_spawn and pins it to `cpu` if given.
  // `stdin_fd` >= 0 becomes the peer's standard input (the socket floor hands it one end of a
  // socketpair that way). Throws std::system_error if it cannot.
  PeerProcess(const std::vector<std::string>& args, std::optional<int> cpu, int stdin_fd = -1);
  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;
  ~PeerProcess();

  pid_t pid() const noexcept { return pid_; }
  // Waits for the peer to end; throws std::runtime_error unless it exited with 0.
  void wait_success();

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

}  // namespace infervisor::bench
