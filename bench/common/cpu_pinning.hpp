// CPU placement for the benchmarks (shared by everything under bench/). For the socket floors: on a
// VM whose idle vCPUs halt, a round trip costs ~4 us when both ends share a CPU and ~70 us when
// each wake-up has to reach another, halted, vCPU; left to itself the scheduler picks either, and
// keeps its pick for the whole measurement.
#pragma once

#include <sched.h>
#include <sys/types.h>

#include <optional>
#include <utility>

namespace infervisor::bench {

// The first two CPUs this process may run on; nullopt if it may use fewer than two.
std::optional<std::pair<int, int>> first_two_cpus();

// Pins `pid` (0: the calling thread) to `cpu`. Throws std::system_error if the kernel refuses.
void pin_to_cpu(pid_t pid, int cpu);

// Pins the calling thread to one CPU and restores its previous CPU set when it goes, so the load
// generator that runs later is placed by the scheduler, like the daemon and the workers.
class ScopedPin {
 public:
  explicit ScopedPin(int cpu);
  ScopedPin(const ScopedPin&) = delete;
  ScopedPin& operator=(const ScopedPin&) = delete;
  ~ScopedPin();

 private:
  cpu_set_t saved_;
};

}  // namespace infervisor::bench
