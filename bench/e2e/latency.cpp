#include "bench/e2e/latency.hpp"

#include <algorithm>
#include <numeric>

namespace infervisor::bench::e2e {
namespace {

double at_fraction(const std::vector<std::chrono::nanoseconds>& sorted, double fraction) {
  const auto rank =
      static_cast<std::size_t>(fraction * static_cast<double>(sorted.size() - 1) + 0.5);
  return std::chrono::duration<double, std::micro>(sorted[std::min(rank, sorted.size() - 1)])
      .count();
}

}  // namespace

LatencySummary summarize(std::vector<std::chrono::nanoseconds>& samples) {
  if (samples.empty()) return {};
  std::sort(samples.begin(), samples.end());
  const auto total = std::accumulate(samples.begin(), samples.end(), std::chrono::nanoseconds{0});
  return {samples.size(), at_fraction(samples, 0.50), at_fraction(samples, 0.99),
          std::chrono::duration<double, std::micro>(total).count() /
              static_cast<double>(samples.size())};
}

}  // namespace infervisor::bench::e2e
