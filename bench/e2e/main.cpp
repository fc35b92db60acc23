// infervisor-bench-e2e: requests through a real infervisord and two workers running the example
// MLP, next to what the same forward() costs in-process and what a Unix-socket round trip costs,
// all measured in one run and printed as one table (see bench/README.md).
//
// The socket echo peer is this executable again, spawned with --socket-echo.
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <span>
#include <string_view>
#include <utility>

#include "bench/common/machine.hpp"
#include "bench/common/socket_transfer.hpp"
#include "bench/e2e/cpu_accounting.hpp"
#include "bench/e2e/daemon_process.hpp"
#include "bench/e2e/in_process_baseline.hpp"
#include "bench/e2e/infer_payload.hpp"
#include "bench/e2e/large_tensors.hpp"
#include "bench/e2e/load_generator.hpp"
#include "bench/e2e/options.hpp"
#include "bench/e2e/report.hpp"
#include "common/cli_args.hpp"

namespace infervisor::bench::e2e {
namespace {

constexpr int kWorkers = 2;
// The flag that turns this executable into the socket echo peer.
constexpr const char* kSocketEchoFlag = "--socket-echo";
constexpr const char* kSocketSinkFlag = "--socket-sink";
constexpr int kInflight[] = {1, 8, 64};
// As the issue states the baseline: batch 1, and as many caller threads as workers.
constexpr const char* kInputSpec = "x:float32:1,256";

// Progress goes to stderr, so stdout is the table alone.
template <class... Args>
void progress(fmt::format_string<Args...> format, Args&&... args) {
  fmt::print(stderr, "[bench-e2e] {}\n", fmt::format(format, std::forward<Args>(args)...));
}

LoadRow measure_load(const DaemonProcess& daemon, const std::vector<pid_t>& workers,
                     const Options& options, TensorEncoding encoding, int inflight) {
  const std::string label = fmt::format(
      "e2e {}, {} in flight", encoding == TensorEncoding::kBinary ? "binary" : "JSON", inflight);
  progress("{}: {} ms warm-up, {} ms window", label, options.warm_up.count(),
           options.measure.count());
  CpuAccounting accounting(::getpid(), daemon.pid(), workers);
  LoadPlan plan;
  plan.connections = inflight;
  plan.warm_up = options.warm_up;
  plan.measure = options.measure;
  plan.window_opened = [&] { accounting.begin(); };
  plan.window_closed = [&] { accounting.end(); };
  const LoadResult result = run_load(daemon.socket(), make_infer_payload(encoding), plan);
  return {label, result, accounting.usage()};
}

int run(const Options& options) {
  check_build(options);
  const auto began = std::chrono::steady_clock::now();
  const auto started_at =
      std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  const std::string load_at_start = load_average();
  BenchResults results;
  results.cpus = usable_cpus();

  progress("Unix socket round trips: 3 x {}", options.socket_round_trips);
  const auto socket_floor = [&](Placement placement) {
    auto samples = socket_round_trips({options.self, {kSocketEchoFlag}}, pinning_for(placement),
                                      options.socket_round_trips / 10, options.socket_round_trips);
    return summarize(samples);
  };
  results.socket = socket_floor(Placement::kScheduler);
  results.socket_same_cpu = socket_floor(Placement::kSameCpu);
  results.socket_two_cpus = socket_floor(Placement::kTwoCpus);

  progress("in-process baseline: {} forwards, then {} threads x {}", options.baseline_iterations,
           kWorkers, options.baseline_iterations);
  results.baseline =
      run_in_process_baseline(options.bin_dir() / "infervisor-reference", options.model(),
                              kInputSpec, kWorkers, options.baseline_iterations);

  progress("starting infervisord with {} workers", kWorkers);
  DaemonSettings settings;
  settings.bin_dir = options.bin_dir();
  settings.model = options.model();
  settings.workers = kWorkers;
  settings.spin = options.spin;
  settings.spin_while_busy = options.spin_while_busy;
  settings.max_inflight = options.max_inflight;
  DaemonProcess daemon(settings);
  daemon.wait_ready(std::chrono::seconds(60));
  const std::vector<pid_t> workers = daemon.worker_pids();
  for (const int inflight : kInflight) {
    results.binary.push_back(
        measure_load(daemon, workers, options, TensorEncoding::kBinary, inflight));
  }
  results.json = measure_load(daemon, workers, options, TensorEncoding::kJson, 1);
  progress("stopping infervisord (SIGTERM)");
  const ExitStatus status = daemon.stop(std::chrono::seconds(60));
  progress("16 MiB tensors through the identity model: socket, then shared-memory regions");
  const auto large = measure_large_tensors(options, {options.self, {kSocketSinkFlag}});

  fmt::print("infervisor-bench-e2e, {:%Y-%m-%d %H:%M:%S} UTC\n", started_at);
  fmt::print("machine:  {}\n", describe_machine());
  fmt::print("load:     {} at start (1, 5, 15 min)\n", load_at_start);
  fmt::print("model:    {} (x FP32 [1, 256], batch 1), torch {}\n", options.model().string(),
             results.baseline.torch_version.empty() ? "?" : results.baseline.torch_version);
  fmt::print(
      "daemon:   {} workers ({} found), spin {}, spin_while_busy {}, max_inflight {}; windows {} "
      "ms after {} ms warm-up\n",
      kWorkers, workers.size(), options.spin.empty() ? "default" : options.spin,
      options.spin_while_busy.empty() ? "default" : options.spin_while_busy,
      options.max_inflight ? std::to_string(*options.max_inflight) : "default",
      options.measure.count(), options.warm_up.count());
  fmt::print("build:    {} ({})\n\n", INFERVISOR_BUILD_TYPE, __VERSION__);
  print_results(results);
  print_large_tensors(large);
  fmt::print("\ninfervisord on SIGTERM: {}\n", status.describe());
  fmt::print("total run time: {:.1f} s\n",
             std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
  if (!status.success()) {
    fmt::print(stderr, "infervisord did not exit 0; its log ends:\n{}\n", daemon.log_tail());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace infervisor::bench::e2e

int main(int argc, char** argv) {
  namespace e2e = infervisor::bench::e2e;
  const std::span<char* const> args(argv + 1, static_cast<std::size_t>(argc - 1));
  if (args.size() == 1 && std::string_view(args[0]) == e2e::kSocketEchoFlag) {
    return infervisor::bench::serve_socket_echo();
  }
  if (args.size() == 1 && std::string_view(args[0]) == e2e::kSocketSinkFlag) {
    return infervisor::bench::serve_socket_sink();
  }
  if (args.size() == 1 &&
      (std::string_view(args[0]) == "--help" || std::string_view(args[0]) == "-h")) {
    fmt::print("{}\n", e2e::usage());
    return 0;
  }
  try {
    return e2e::run(e2e::parse_options(args));
  } catch (const infervisor::UsageError& error) {
    fmt::print(stderr, "infervisor-bench-e2e: {}\n{}\n", error.what(), e2e::usage());
    return 2;
  } catch (const std::invalid_argument& error) {
    fmt::print(stderr, "infervisor-bench-e2e: {}\n{}\n", error.what(), e2e::usage());
    return 2;
  } catch (const std::exception& error) {
    fmt::print(stderr, "infervisor-bench-e2e: {}\n", error.what());
    return 1;
  }
}
