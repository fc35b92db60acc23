// Round-trip samples, pooled over the blocks of a run, and their summary.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

namespace infervisor::bench {

struct RoundTrips {
  std::vector<std::chrono::nanoseconds> samples;  // measured round trips, warm-up excluded
  std::uint64_t messages = 0;  // records or words sent both ways, warm-up included
  std::uint64_t wakeups = 0;   // wake-up system calls of both processes

  void append(const RoundTrips& block);
  double wakeups_per_message() const;
};

struct LatencySummary {
  double p50_us = 0;
  double p99_us = 0;
  double mean_us = 0;
};

LatencySummary summarize(std::vector<std::chrono::nanoseconds> samples);

}  // namespace infervisor::bench
