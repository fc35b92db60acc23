// 64-byte round trips through the two rings: a REQUEST into the request ring, the worker's
// RESPONSE back through the response ring. The worker side is always the worker's: blocking
// peek/reserve with the default SpinPolicy, parked on a futex. The supervisor side is either
//   kBlocking  the same blocking calls, parked on a futex (both sides symmetric), or
//   kDaemon    what infervisord's event loop does: try_reserve and commit, then try_peek polled
//              for the spin budget (SpinPolicy's 50 us), then parked on an eventfd in poll()
//              (arm_parking first), which the worker's commit writes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "bench/shm/latency.hpp"

namespace infervisor::bench {

enum class SupervisorSide { kBlocking, kDaemon };

// One block: a fresh channel and peer, `warm_up` unmeasured round trips, then `round_trips`.
RoundTrips measure_ring_round_trip(std::uint64_t warm_up, std::uint64_t round_trips,
                                   std::optional<int> peer_cpu,
                                   SupervisorSide side = SupervisorSide::kBlocking);

// The worker end ("--peer ring-echo <channel arguments>"): echoes each request.
int serve_ring_echo(std::span<char* const> args);

}  // namespace infervisor::bench
