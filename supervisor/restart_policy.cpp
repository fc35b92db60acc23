#include "supervisor/restart_policy.hpp"

#include <algorithm>

namespace infervisor::supervisor {

RestartPolicy::RestartPolicy(const SupervisionPolicy& policy, int instances)
    : policy_(policy), backoff_(static_cast<std::size_t>(std::max(instances, 0))) {
  reset();
}

void RestartPolicy::reset() {
  std::fill(backoff_.begin(), backoff_.end(), policy_.restart_backoff_initial);
  deaths_.clear();
}

std::size_t RestartPolicy::recent_deaths(Clock::time_point now) {
  while (!deaths_.empty() && now - deaths_.front() >= policy_.restart_window)
    deaths_.pop_front();
  return deaths_.size();
}

RestartPolicy::Decision RestartPolicy::on_death(int instance,
                                                std::optional<Clock::time_point> ready_since,
                                                Clock::time_point now) {
  deaths_.push_back(now);
  Decision decision;
  if (recent_deaths(now) > static_cast<std::size_t>(policy_.max_restarts)) {
    decision.model_failed = true;
    return decision;
  }
  auto& backoff = backoff_.at(static_cast<std::size_t>(instance));
  if (ready_since && now - *ready_since >= policy_.min_uptime) {
    backoff = policy_.restart_backoff_initial;
    return decision;  // it served long enough: replace it at once
  }
  decision.delay = backoff;
  backoff = std::min(backoff * 2, policy_.restart_backoff_max);
  if (backoff < policy_.restart_backoff_initial) backoff = policy_.restart_backoff_initial;
  return decision;
}

}  // namespace infervisor::supervisor
