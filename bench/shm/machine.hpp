// What the benchmark ran on, for the header of its table, and optional CPU pinning.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>

namespace infervisor::bench {

// "2 CPUs, Intel(R) Xeon(R) Processor, Linux 6.1.0, load 0.10 0.15 0.09".
std::string describe_machine();

// The first two CPUs this process may run on, or nullopt if it may run on fewer than two.
std::optional<std::pair<int, int>> two_cpus();

// Pins `pid` (0: this process) to `cpu`; throws std::system_error if the kernel refuses.
void pin(pid_t pid, int cpu);

}  // namespace infervisor::bench
