#include "bench/shm/machine.hpp"

#include <fmt/format.h>
#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <system_error>

namespace infervisor::bench {
namespace {

std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.starts_with("model name")) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  }
  return "unknown CPU";
}

std::string load_average() {
  std::ifstream loadavg("/proc/loadavg");
  std::string one, five, fifteen;
  loadavg >> one >> five >> fifteen;
  return fmt::format("{} {} {}", one, five, fifteen);
}

}  // namespace

std::string describe_machine() {
  utsname system{};
  ::uname(&system);
  return fmt::format("{} CPUs (nproc), {}, Linux {}, load average {} at start",
                     ::sysconf(_SC_NPROCESSORS_ONLN), cpu_model(), system.release, load_average());
}

std::optional<std::pair<int, int>> two_cpus() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (::sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return std::nullopt;
  int found[2] = {-1, -1};
  int count = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE && count < 2; ++cpu) {
    if (CPU_ISSET(cpu, &allowed)) found[count++] = cpu;
  }
  if (count < 2) return std::nullopt;
  return std::pair{found[0], found[1]};
}

void pin(pid_t pid, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (::sched_setaffinity(pid, sizeof(set), &set) != 0) {
    throw std::system_error(errno, std::generic_category(), fmt::format("pin to CPU {}", cpu));
  }
}

}  // namespace infervisor::bench
