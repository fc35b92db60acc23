// What a benchmark ran on, for the header of its table: the numbers mean little without it.
// Shared by every benchmark under bench/.
#pragma once

#include <string>

namespace infervisor::bench {

// The CPUs this process may run on: what the benchmark and everything it starts share.
int usable_cpus();

// "2 CPUs, AMD EPYC 9B14, Linux 6.18.44-fc".
std::string describe_machine();

// The 1, 5 and 15 minute load averages, "0.52 0.61 0.70": other work competing for the CPUs.
std::string load_average();

}  // namespace infervisor::bench
