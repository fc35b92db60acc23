// The channel as the benchmark's two processes use it: the peer opens it from its arguments, and
// a run ends with SHUTDOWN, answered by a SHUTDOWN_ACK that carries the peer's PeerReport.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "bench/shm/protocol.hpp"
#include "shm/channel.hpp"

namespace infervisor::bench {

// The arguments a peer needs to open `channel`: segment name, generation, supervisor pid, and
// the eventfd it rings when this side is parked (-1: a futex, as in the blocking calls).
std::vector<std::string> channel_arguments(const shm::SupervisorChannel& channel,
                                           int wakeup_fd = -1);

// Opens the channel named by the first four of `args` (see channel_arguments). Throws on error.
shm::WorkerChannel open_worker_channel(std::span<char* const> args);

// Supervisor side: sends SHUTDOWN and returns the peer's report from its SHUTDOWN_ACK.
PeerReport shut_down_peer(shm::SupervisorChannel& channel, const shm::SpinPolicy& policy);

// Worker side: answers the SHUTDOWN it has just peeked.
void acknowledge_shutdown(shm::WorkerChannel& channel, const shm::RecordView& shutdown,
                          const PeerReport& report, const shm::SpinPolicy& policy);

}  // namespace infervisor::bench
