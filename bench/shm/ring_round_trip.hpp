// 64-byte round trips through the two rings, as supervisor and worker use them: a REQUEST into
// the request ring, the worker's RESPONSE back through the response ring, default SpinPolicy on
// both sides.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "bench/shm/latency.hpp"

namespace infervisor::bench {

// One block: a fresh channel and peer, `warm_up` unmeasured round trips, then `round_trips`.
RoundTrips measure_ring_round_trip(std::uint64_t warm_up, std::uint64_t round_trips,
                                   std::optional<int> peer_cpu);

// The worker end ("--peer ring-echo <channel arguments>"): echoes each request.
int serve_ring_echo(std::span<char* const> args);

}  // namespace infervisor::bench
