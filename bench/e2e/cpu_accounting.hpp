// Where the CPU goes during a measurement window, per process on the request path (the load
// generator, the daemon, the workers): time on a CPU, time runnable but waiting for one (on two
// cores shared by four busy processes, that wait is latency), and context switches (voluntary:
// the process blocked, e.g. in epoll or a futex; involuntary: the scheduler preempted it).
// Read from /proc/PID/task/*/schedstat and .../status, summed over each process's threads.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

namespace infervisor::bench::e2e {

struct CpuCounters {
  std::uint64_t run_ns = 0;
  std::uint64_t wait_ns = 0;
  std::uint64_t voluntary_switches = 0;
  std::uint64_t involuntary_switches = 0;

  CpuCounters& operator+=(const CpuCounters& other) noexcept;
  CpuCounters operator-(const CpuCounters& other) const noexcept;
};

// Counters of one process, summed over its threads now; zeros for a process that is gone.
CpuCounters read_cpu_counters(pid_t pid);

struct CpuUsage {
  CpuCounters client;
  CpuCounters daemon;
  CpuCounters workers;  // all of them together
};

// Samples the three groups at begin() and end(); usage() is the difference.
class CpuAccounting {
 public:
  CpuAccounting(pid_t client, pid_t daemon, std::vector<pid_t> workers);
  void begin();
  void end();
  CpuUsage usage() const noexcept { return usage_; }

 private:
  CpuUsage sample() const;

  pid_t client_;
  pid_t daemon_;
  std::vector<pid_t> workers_;
  CpuUsage begin_;
  CpuUsage usage_;
};

}  // namespace infervisor::bench::e2e
