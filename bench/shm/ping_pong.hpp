// The floors under the ring's round trip, with no ring at all: one 32-bit word each way in shared
// memory. "futex": both sides park in the kernel every time and always make the wake-up call (the
// price of a round trip through the scheduler). "spin": wait_until with the default SpinPolicy and
// a Doorbell, exactly the waiting the rings do (the price of two cache-line hand-overs).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "bench/shm/latency.hpp"

namespace infervisor::bench {

enum class PingPongKind { kFutex, kSpinThenPark };

// One block: a fresh shared page and peer, `warm_up` unmeasured round trips, then `round_trips`.
RoundTrips measure_ping_pong(PingPongKind kind, std::uint64_t warm_up, std::uint64_t round_trips,
                             std::optional<int> peer_cpu);

// The answering end ("--peer ping-pong <futex|spin> <shm name> <round trips>").
int serve_ping_pong(std::span<char* const> args);

}  // namespace infervisor::bench
