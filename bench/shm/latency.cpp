#include "bench/shm/latency.hpp"

#include <algorithm>
#include <numeric>

namespace infervisor::bench {

void RoundTrips::append(const RoundTrips& block) {
  samples.insert(samples.end(), block.samples.begin(), block.samples.end());
  messages += block.messages;
  wakeups += block.wakeups;
}

double RoundTrips::wakeups_per_message() const {
  return messages == 0 ? 0.0 : static_cast<double>(wakeups) / static_cast<double>(messages);
}

LatencySummary summarize(std::vector<std::chrono::nanoseconds> samples) {
  if (samples.empty()) return {};
  std::sort(samples.begin(), samples.end());
  const auto at = [&](double quantile) {
    const auto index = static_cast<std::size_t>(quantile * static_cast<double>(samples.size() - 1));
    return static_cast<double>(samples[index].count()) / 1000.0;
  };
  const auto total = std::accumulate(samples.begin(), samples.end(), std::chrono::nanoseconds{});
  return {at(0.50), at(0.99),
          static_cast<double>(total.count()) / 1000.0 / static_cast<double>(samples.size())};
}

}  // namespace infervisor::bench
