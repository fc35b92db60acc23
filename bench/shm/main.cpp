// infervisor-bench-shm: what the shared-memory channel costs, measured between two processes in
// one run and printed as one table, next to the floors it cannot beat (a futex round trip, a
// spinning atomic ping-pong, a Unix socket) and memcpy.
//
//   infervisor-bench-shm [--no-pin]
//     By default this process and its peer are pinned to the first two CPUs it may use (when it
//     may use two): unpinned, the scheduler at times leaves both spinning processes on one CPU,
//     and the run measures sched_yield hand-overs instead of the channel.
//     --no-pin   let the scheduler place both
// The peer is this executable again, spawned with "--peer <role> ...".
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "bench/common/cpu_pinning.hpp"
#include "bench/common/machine.hpp"
#include "bench/common/socket_transfer.hpp"
#include "bench/shm/ping_pong.hpp"
#include "bench/shm/ring_round_trip.hpp"
#include "bench/shm/streaming.hpp"
#include "common/cli_args.hpp"

namespace infervisor::bench {
namespace {

// Round trips per path. The ring and its spin-then-park floor run in alternating blocks, each with
// a fresh peer, so that both meet the same moods of a shared (virtual) machine; their ratio is the
// number that matters. The futex and socket floors cost tens of microseconds a round trip, so they
// get fewer. Every count keeps p99 well resolved and the whole run under a minute.
constexpr int kBlocks = 5;
constexpr std::uint64_t kBlockRoundTrips = 40000;
constexpr std::uint64_t kBlockWarmUp = 4000;
constexpr std::uint64_t kSlowRoundTrips = 20000;
constexpr std::uint64_t kStreamBytes = std::uint64_t{2} << 30;  // per frame size
constexpr std::uint64_t kMiB = 1024 * 1024;

int serve(std::string_view role, std::span<char* const> args) {
  if (role == "ring-echo") return serve_ring_echo(args);
  if (role == "ping-pong") return serve_ping_pong(args);
  if (role == "socket-echo") return serve_socket_echo();
  if (role == "stream-consume") return serve_stream_consumer(args);
  fmt::print(stderr, "unknown peer role '{}'\n", role);
  return 2;
}

// Prints one row and returns the p50.
double print_latency_row(std::string_view path, const RoundTrips& trips, bool count_wakeups) {
  const auto latency = summarize(trips.samples);
  fmt::print("  {:<44} {:>7} {:>8.2f} {:>8.2f} {:>8.2f} {:>12}\n", path, trips.samples.size(),
             latency.p50_us, latency.p99_us, latency.mean_us,
             count_wakeups ? fmt::format("{:.4f}", trips.wakeups_per_message()) : "-");
  return latency.p50_us;
}

int run(const std::filesystem::path& self, bool pin_cpus) {
  // Before pinning, which leaves this process one CPU to see.
  const std::string machine =
      fmt::format("{}, load average {} at start", describe_machine(), load_average());
  std::optional<int> peer_cpu;
  std::string pinning = "none";
  if (pin_cpus) {
    const auto cpus = first_two_cpus();
    if (!cpus) {
      pinning = "none (fewer than two CPUs to run on)";
    } else {
      pin_to_cpu(0, cpus->first);
      peer_cpu = cpus->second;
      pinning =
          fmt::format("this process on CPU {}, its peer on CPU {}", cpus->first, cpus->second);
    }
  }
  const auto began = std::chrono::system_clock::now();
  fmt::print("infervisor-bench-shm, {:%Y-%m-%d %H:%M:%S} UTC\n",
             std::chrono::floor<std::chrono::seconds>(began));
  fmt::print("machine: {}\n", machine);
  fmt::print("build:   {} ({}), pinning: {}\n\n", INFERVISOR_BUILD_TYPE, __VERSION__, pinning);
  std::fflush(stdout);

  fmt::print("64-byte round trip between two processes (microseconds)\n");
  fmt::print("  {:<44} {:>7} {:>8} {:>8} {:>8} {:>12}\n", "path", "n", "p50", "p99", "mean",
             "wakeups/msg");
  RoundTrips ring, daemon_ring, spin;
  for (int block = 0; block < kBlocks; ++block) {
    ring.append(measure_ring_round_trip(kBlockWarmUp, kBlockRoundTrips, peer_cpu));
    daemon_ring.append(
        measure_ring_round_trip(kBlockWarmUp, kBlockRoundTrips, peer_cpu, SupervisorSide::kDaemon));
    spin.append(
        measure_ping_pong(PingPongKind::kSpinThenPark, kBlockWarmUp, kBlockRoundTrips, peer_cpu));
  }
  const double ring_p50 =
      print_latency_row("shm rings: request ring, then response ring", ring, true);
  print_latency_row("shm rings, daemon's way (try_*, eventfd)", daemon_ring, true);
  const double spin_p50 = print_latency_row("floor: spin-then-park atomic ping-pong", spin, true);
  print_latency_row(
      "floor: futex, both sides always park",
      measure_ping_pong(PingPongKind::kFutex, kSlowRoundTrips / 10, kSlowRoundTrips, peer_cpu),
      true);
  RoundTrips socket;
  // This process is pinned already (if at all); the peer goes to the other CPU.
  socket.samples = socket_round_trips({self, {"--peer", "socket-echo"}}, {std::nullopt, peer_cpu},
                                      kSlowRoundTrips / 10, kSlowRoundTrips);
  print_latency_row("floor: Unix socketpair, blocking", socket, false);
  fmt::print("  ring p50 / spin-then-park p50: {:.2f}x (target <= 1.5x)\n\n", ring_p50 / spin_p50);
  std::fflush(stdout);

  fmt::print("Streaming tensor frames, one process to the other (GB/s = 1e9 bytes/s)\n");
  fmt::print("  producer: memcpy source -> reserved record; consumer: decode, read every byte\n");
  fmt::print("  {:>8} {:>7} {:>10} {:>12} {:>8}\n", "frame", "frames", "ring", "memcpy", "ratio");
  for (const std::uint64_t mib : {1, 16, 64}) {
    const auto stream = measure_streaming(mib * kMiB, kStreamBytes, peer_cpu);
    fmt::print("  {:>4} MiB {:>7} {:>10.2f} {:>12.2f} {:>7.2f}x\n", mib, stream.frames,
               stream.ring_gb_per_s, stream.memcpy_gb_per_s,
               stream.ring_gb_per_s / stream.memcpy_gb_per_s);
    std::fflush(stdout);
  }
  fmt::print("  target: 16 MiB ratio >= 0.8x\n\n");
  fmt::print("total run time: {:.1f} s\n",
             std::chrono::duration<double>(std::chrono::system_clock::now() - began).count());
  return 0;
}

}  // namespace
}  // namespace infervisor::bench

int main(int argc, char** argv) {
  const std::span<char* const> args(argv, static_cast<std::size_t>(argc));
  try {
    if (args.size() >= 3 && std::string_view(args[1]) == "--peer") {
      return infervisor::bench::serve(args[2], args.subspan(3));
    }
    bool pin = true;
    constexpr std::array<std::string_view, 1> kSwitches{"--no-pin"};
    try {
      for (const infervisor::CliArg& arg : infervisor::split_cli(args.subspan(1), kSwitches)) {
        if (arg.flag != "--no-pin") throw infervisor::UsageError("unexpected argument");
        pin = false;
      }
    } catch (const infervisor::UsageError&) {
      fmt::print(stderr, "usage: {} [--no-pin]\n", args[0]);
      return 2;
    }
    return infervisor::bench::run(std::filesystem::read_symlink("/proc/self/exe"), pin);
  } catch (const std::exception& error) {
    fmt::print(stderr, "{}: {}\n", args.size() >= 3 ? "peer" : "infervisor-bench-shm",
               error.what());
    return 1;
  }
}
