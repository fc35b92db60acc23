// What the benchmark ran on, for the header of its table: the numbers mean little without it.
#pragma once

#include <string>

namespace infervisor::bench::e2e {

// The CPUs this process may run on: what the daemon's workers and this benchmark share.
int usable_cpus();

// "2 CPUs, Intel(R) Xeon(R) Processor, Linux 6.1.0".
std::string describe_machine();

// The 1, 5 and 15 minute load averages, "0.52 0.61 0.70": other work competing for the CPUs.
std::string load_average();

}  // namespace infervisor::bench::e2e
