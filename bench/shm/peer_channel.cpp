#include "bench/shm/peer_channel.hpp"

#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace infervisor::bench {

std::vector<std::string> channel_arguments(const shm::SupervisorChannel& channel, int wakeup_fd) {
  return {channel.segment.name(), std::to_string(channel.segment.generation()),
          std::to_string(::getpid()), std::to_string(wakeup_fd)};
}

shm::WorkerChannel open_worker_channel(std::span<char* const> args) {
  if (args.size() < 4) {
    throw std::invalid_argument("peer: segment name, generation, pid, wake-up fd expected");
  }
  const shm::SegmentExpectation expected{std::stoull(args[1]),
                                         static_cast<pid_t>(std::stol(args[2]))};
  return shm::WorkerChannel::open(args[0], expected, std::stoi(args[3])).value();
}

PeerReport shut_down_peer(shm::SupervisorChannel& channel, const shm::SpinPolicy& policy) {
  channel.requests.commit(
      channel.requests.reserve(shm::RecordType::kShutdown, 0, 0, policy, patience()).value());
  const auto ack = channel.responses.peek(policy, patience()).value();
  if (ack.type != shm::RecordType::kShutdownAck || ack.payload.size() != sizeof(PeerReport)) {
    throw std::runtime_error("peer answered SHUTDOWN with something else than its report");
  }
  PeerReport report;
  std::memcpy(&report, ack.payload.data(), sizeof(report));
  channel.responses.release(ack);
  return report;
}

void acknowledge_shutdown(shm::WorkerChannel& channel, const shm::RecordView& shutdown,
                          const PeerReport& report, const shm::SpinPolicy& policy) {
  channel.requests.release(shutdown);
  const auto ack =
      channel.responses
          .reserve(shm::RecordType::kShutdownAck, 0, sizeof(report), policy, patience())
          .value();
  std::memcpy(ack.payload.data(), &report, sizeof(report));
  channel.responses.commit(ack);
}

}  // namespace infervisor::bench
