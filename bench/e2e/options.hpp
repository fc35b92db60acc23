// infervisor-bench-e2e's command line.
//
//   infervisor-bench-e2e [--build-dir DIR] [--seconds S] [--quick]
//                        [--spin DURATION] [--spin-while-busy DURATION] [--max-inflight N]
//     --build-dir     the build tree with bin/ and models/ (default: <this executable>/../..)
//     --seconds       the measurement window of each load row (default 5; warm-up 1 s before it)
//     --quick         a smoke run: 1 s windows, 0.3 s warm-ups, fewer round trips (~15 s)
//     --spin, --spin-while-busy, --max-inflight
//                     written into the daemon's config (`spin`, `spin_while_busy`, the model's
//                     `max_inflight`), to see what they change; by default the config leaves
//                     them at their defaults
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <span>
#include <string>

namespace infervisor::bench::e2e {

struct Options {
  std::filesystem::path self;  // this executable, re-run as the socket echo peer
  std::filesystem::path build_dir;
  std::chrono::milliseconds warm_up{1000};
  std::chrono::milliseconds measure{5000};
  std::size_t socket_round_trips = 20000;
  int baseline_iterations = 20000;  // per in-process measurement (and per thread)
  std::string spin;
  std::string spin_while_busy;
  std::optional<int> max_inflight;

  std::filesystem::path bin_dir() const { return build_dir / "bin"; }
  std::filesystem::path model() const { return build_dir / "models" / "mlp.pt"; }
};

// `args` without argv[0]. Throws UsageError naming the bad argument.
Options parse_options(std::span<char* const> args);

// Throws std::invalid_argument naming the first of the build's binaries or the model that is
// missing, before anything is measured.
void check_build(const Options& options);

std::string usage();

}  // namespace infervisor::bench::e2e
