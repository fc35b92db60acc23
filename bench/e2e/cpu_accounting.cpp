#include "bench/e2e/cpu_accounting.hpp"

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace infervisor::bench::e2e {
namespace {

// The value of "key:\tvalue" in a /proc status file, 0 if absent.
std::uint64_t status_field(const std::filesystem::path& status, std::string_view key) {
  std::ifstream in(status);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(key) && line.size() > key.size() && line[key.size()] == ':') {
      return std::stoull(line.substr(key.size() + 1));
    }
  }
  return 0;
}

}  // namespace

CpuCounters& CpuCounters::operator+=(const CpuCounters& other) noexcept {
  run_ns += other.run_ns;
  wait_ns += other.wait_ns;
  voluntary_switches += other.voluntary_switches;
  involuntary_switches += other.involuntary_switches;
  return *this;
}

CpuCounters CpuCounters::operator-(const CpuCounters& other) const noexcept {
  return {run_ns - other.run_ns, wait_ns - other.wait_ns,
          voluntary_switches - other.voluntary_switches,
          involuntary_switches - other.involuntary_switches};
}

CpuCounters read_cpu_counters(pid_t pid) {
  CpuCounters total;
  std::error_code ec;
  const auto tasks = std::filesystem::path("/proc") / std::to_string(pid) / "task";
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    CpuCounters thread;
    // schedstat: nanoseconds on a CPU, nanoseconds waiting on a run queue, timeslices.
    std::ifstream schedstat(task.path() / "schedstat");
    schedstat >> thread.run_ns >> thread.wait_ns;
    thread.voluntary_switches = status_field(task.path() / "status", "voluntary_ctxt_switches");
    thread.involuntary_switches =
        status_field(task.path() / "status", "nonvoluntary_ctxt_switches");
    total += thread;
  }
  return total;
}

CpuAccounting::CpuAccounting(pid_t client, pid_t daemon, std::vector<pid_t> workers)
    : client_(client), daemon_(daemon), workers_(std::move(workers)) {}

void CpuAccounting::begin() {
  begin_ = sample();
}

void CpuAccounting::end() {
  const CpuUsage now = sample();
  usage_ = {now.client - begin_.client, now.daemon - begin_.daemon, now.workers - begin_.workers};
}

CpuUsage CpuAccounting::sample() const {
  CpuUsage usage{read_cpu_counters(client_), read_cpu_counters(daemon_), {}};
  for (const pid_t worker : workers_)
    usage.workers += read_cpu_counters(worker);
  return usage;
}

}  // namespace infervisor::bench::e2e
