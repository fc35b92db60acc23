// What the benchmark's two processes agree on: segment naming, and the report a peer sends back
// in its SHUTDOWN_ACK so that its side's counters reach the table.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "shm/wait.hpp"

namespace infervisor::bench {

inline constexpr std::string_view kSegmentPrefix = "ivbench";
inline constexpr std::uint64_t kGeneration = 1;

// Payload of the peer's SHUTDOWN_ACK.
struct PeerReport {
  std::uint64_t wakeups;   // wake-up system calls the peer's doorbells made
  std::uint64_t records;   // records it consumed, SHUTDOWN excluded
  std::uint64_t word_sum;  // streaming: sum of every 64-bit payload word it read
};

// A bound on every wait, so that a dead peer ends the run with an error instead of a hang.
inline shm::Clock::time_point patience() {
  return shm::Clock::now() + std::chrono::seconds(10);
}

}  // namespace infervisor::bench
