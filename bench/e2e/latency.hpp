// Percentiles of latency samples, the one summary every row of the table uses.
#pragma once

#include <chrono>
#include <cstddef>
#include <vector>

namespace infervisor::bench::e2e {

struct LatencySummary {
  std::size_t samples = 0;
  double p50_us = 0;
  double p99_us = 0;
  double mean_us = 0;
};

// Nearest-rank percentiles; sorts `samples` in place. All zeros when there are none.
LatencySummary summarize(std::vector<std::chrono::nanoseconds>& samples);

}  // namespace infervisor::bench::e2e
