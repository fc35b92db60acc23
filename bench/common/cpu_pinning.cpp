#include "bench/common/cpu_pinning.hpp"

#include <cerrno>
#include <system_error>

namespace infervisor::bench {

std::optional<std::pair<int, int>> first_two_cpus() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (::sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return std::nullopt;
  std::optional<int> first;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    if (first) return std::pair{*first, cpu};
    first = cpu;
  }
  return std::nullopt;
}

void pin_to_cpu(pid_t pid, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (::sched_setaffinity(pid, sizeof(set), &set) != 0) {
    throw std::system_error(errno, std::generic_category(), "sched_setaffinity");
  }
}

ScopedPin::ScopedPin(int cpu) {
  CPU_ZERO(&saved_);
  if (::sched_getaffinity(0, sizeof(saved_), &saved_) != 0) {
    throw std::system_error(errno, std::generic_category(), "sched_getaffinity");
  }
  pin_to_cpu(0, cpu);
}

ScopedPin::~ScopedPin() {
  ::sched_setaffinity(0, sizeof(saved_), &saved_);
}

}  // namespace infervisor::bench
