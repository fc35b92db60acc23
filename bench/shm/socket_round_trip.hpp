// The floor a conventional design would pay: 64 bytes each way over a blocking Unix socketpair.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "bench/shm/latency.hpp"

namespace infervisor::bench {

RoundTrips measure_socket_round_trip(std::uint64_t warm_up, std::uint64_t round_trips,
                                     std::optional<int> peer_cpu);

// The answering end ("--peer socket-echo"), its socket on standard input; ends at EOF.
int serve_socket_echo(std::span<char* const> args);

}  // namespace infervisor::bench
