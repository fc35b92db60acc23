// The printed result: one table of every measurement, the two targets as ratios to the floors
// measured in the same run, and where the CPU went during each load window.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bench/e2e/cpu_accounting.hpp"
#include "bench/e2e/in_process_baseline.hpp"
#include "bench/e2e/latency.hpp"
#include "bench/e2e/load_generator.hpp"

namespace infervisor::bench::e2e {

struct LoadRow {
  std::string label;  // "e2e binary, 8 in flight"
  LoadResult result;
  CpuUsage cpu;
};

struct BenchResults {
  int cpus = 0;
  LatencySummary socket;           // placed by the scheduler: the floor
  LatencySummary socket_same_cpu;  // for information
  LatencySummary socket_two_cpus;  // for information
  InProcessBaseline baseline;
  std::vector<LoadRow> binary;  // ascending in-flight counts; the first has 1, the last the most
  std::optional<LoadRow> json;  // for information, not a target
};

// Prints the measurement table, the targets with PASS/MISS and the CPU table to stdout.
void print_results(const BenchResults& results);

}  // namespace infervisor::bench::e2e
