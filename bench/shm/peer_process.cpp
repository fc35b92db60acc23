#include "bench/shm/peer_process.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <stdexcept>

#include "bench/common/cpu_pinning.hpp"

namespace infervisor::bench {

PeerProcess::PeerProcess(const std::vector<std::string>& args, std::optional<int> cpu, int stdin_fd,
                         int inherit_fd) {
  std::vector<std::string> peer_args = {"--peer"};
  peer_args.insert(peer_args.end(), args.begin(), args.end());
  SpawnOptions options;
  options.stdin_fd = stdin_fd;
  if (inherit_fd >= 0) options.inherit_fds = {inherit_fd};
  child_ = ChildProcess::spawn(std::filesystem::read_symlink("/proc/self/exe"), peer_args, options);
  // Pinned only now: the peer's warm-up rounds, before anything is measured, absorb the moment
  // it ran unpinned. A refusal leaves the destructor to reap it.
  if (cpu) pin_to_cpu(child_.pid(), *cpu);
}

void PeerProcess::wait_success() {
  const auto status = child_.wait();
  if (!status.success()) {
    throw std::runtime_error(fmt::format("peer {} {}", child_.pid(), status.describe()));
  }
}

}  // namespace infervisor::bench
