// When a dead worker is started again, and when a model has died too often to go on: the restart
// policy of issue 7, in the manner of Erlang/OTP supervisors and supervisord. Pure (no processes,
// no timers: the caller passes the clock), so it is unit-tested alone.
//
// Per instance (a worker slot of the model, stable across respawns):
//   - a worker that was READY for at least `min_uptime` when it died is replaced at once, and the
//     instance's backoff starts over;
//   - any other death is early: the instance respawns after its backoff, which starts at
//     `restart_backoff_initial` and doubles per consecutive early death up to
//     `restart_backoff_max`.
// Per model: more than `max_restarts` deaths of any kind within `restart_window` mark the model
// FAILED. Deaths the daemon caused (its kills for a job deadline, recycling) count for neither.
#pragma once

#include <chrono>
#include <deque>
#include <optional>
#include <vector>

#include "supervisor/config.hpp"

namespace infervisor::supervisor {

class RestartPolicy {
 public:
  using Clock = std::chrono::steady_clock;

  RestartPolicy(const SupervisionPolicy& policy, int instances);

  struct Decision {
    bool model_failed = false;           // stop the model instead of respawning
    std::chrono::milliseconds delay{0};  // before the instance's next worker is spawned
  };

  // A worker of `instance` died on its own. `ready_since`: when it reported READY (nullopt if it
  // never did).
  Decision on_death(int instance, std::optional<Clock::time_point> ready_since,
                    Clock::time_point now);
  // Deaths counted in the window now (for messages: "6 deaths within 60 s").
  std::size_t recent_deaths(Clock::time_point now);
  // A fresh start (repository load): no history.
  void reset();

 private:
  const SupervisionPolicy& policy_;
  std::vector<std::chrono::milliseconds> backoff_;  // next early-death delay, per instance
  std::deque<Clock::time_point> deaths_;            // within the window, oldest first
};

}  // namespace infervisor::supervisor
