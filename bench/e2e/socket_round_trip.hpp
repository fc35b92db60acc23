// The physical floor the daemon's added latency is judged against: a 64-byte message to another
// process and back over a blocking AF_UNIX stream socket. An HTTP request to infervisord crosses
// such a socket once each way, plus the shared-memory hop to a worker and back.
#pragma once

#include <cstddef>
#include <filesystem>

#include "bench/e2e/latency.hpp"

namespace infervisor::bench::e2e {

// Where the two ends run (see cpu_pinning.hpp for why it matters so much on a VM).
enum class Placement {
  kScheduler,  // wherever the scheduler puts them, as it does the daemon: the floor of the target
  kSameCpu,    // both on one CPU: each hand-off is a context switch (for information)
  kTwoCpus,    // one CPU each: each hand-off wakes the other CPU (for information)
};

// The flag that turns this executable into the echoing peer.
inline constexpr const char* kSocketEchoFlag = "--socket-echo";

// Spawns `self` as the echo peer on one end of a socketpair and times round trips from this end.
// Throws std::system_error or std::runtime_error (also if a pinned placement lacks two CPUs).
LatencySummary measure_socket_round_trip(const std::filesystem::path& self, Placement placement,
                                         std::size_t warm_up, std::size_t round_trips);

// The peer: echoes 64-byte messages on standard input until EOF; returns the exit code.
int serve_socket_echo() noexcept;

}  // namespace infervisor::bench::e2e
