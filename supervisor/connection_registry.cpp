#include "supervisor/connection_registry.hpp"

#include <algorithm>
#include <utility>
#include <vector>

namespace infervisor::supervisor {

// Closing removes members from the set: each walk below goes over a copy.

void ConnectionRegistry::close_all_when_idle() {
  const auto members = shared_->members;
  for (auto* member : members)
    member->close_when_idle();
}

bool ConnectionRegistry::close_longest_idle() {
  std::vector<std::pair<Clock::time_point, Member*>> idle;
  for (auto* member : shared_->members) {
    if (const auto since = member->idle_since()) idle.emplace_back(*since, member);
  }
  std::sort(idle.begin(), idle.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  // One whose next request has begun to arrive is not idle after all: try the next.
  return std::any_of(idle.begin(), idle.end(),
                     [](const auto& entry) { return entry.second->close_if_idle(); });
}

void ConnectionRegistry::begin_drain() {
  const auto members = shared_->members;
  for (auto* member : members)
    member->note_drain();
}

void ConnectionRegistry::start_sweeping() {
  sweep_timer_.expires_after(std::chrono::seconds(1));
  sweep_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    const auto now = Clock::now();
    const auto members = shared_->members;
    for (auto* member : members)
      member->close_if_overdue(now);
    start_sweeping();
  });
}

}  // namespace infervisor::supervisor
