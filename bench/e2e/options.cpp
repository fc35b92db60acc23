#include "bench/e2e/options.hpp"

#include <fmt/format.h>

#include <array>
#include <stdexcept>
#include <string_view>

#include "common/cli_args.hpp"

namespace infervisor::bench::e2e {
Options parse_options(std::span<char* const> args) {
  Options options;
  std::optional<double> seconds;  // applied after --quick, whichever comes first
  options.self = std::filesystem::read_symlink("/proc/self/exe");
  // <build>/bin/infervisor-bench-e2e: the build is two levels up.
  options.build_dir = options.self.parent_path().parent_path();
  constexpr std::array<std::string_view, 1> kSwitches{"--quick"};
  for (const CliArg& arg : split_cli(args, kSwitches)) {
    if (arg.flag == "--quick") {
      options.warm_up = std::chrono::milliseconds(300);
      options.measure = std::chrono::milliseconds(1000);
      options.socket_round_trips = 5000;
      options.baseline_iterations = 3000;
    } else if (arg.flag == "--build-dir") {
      options.build_dir = std::filesystem::absolute(arg.value);
    } else if (arg.flag == "--seconds") {
      seconds = parse_number_flag(arg, 0.1, 600);
    } else if (arg.flag == "--spin") {
      options.spin = arg.value;  // the daemon checks it, and says what is wrong
    } else if (arg.flag == "--spin-while-busy") {
      options.spin_while_busy = arg.value;
    } else if (arg.flag == "--max-inflight") {
      options.max_inflight = static_cast<int>(parse_int_flag(arg, 1, 1024));
    } else {
      throw UsageError(
          fmt::format("unexpected argument '{}'", arg.flag.empty() ? arg.value : arg.flag));
    }
  }
  if (seconds) {
    options.measure = std::chrono::milliseconds(static_cast<std::int64_t>(*seconds * 1000));
  }
  return options;
}

void check_build(const Options& options) {
  for (const auto& needed :
       {options.bin_dir() / "infervisord", options.bin_dir() / "infervisor-worker",
        options.bin_dir() / "infervisor-reference", options.model()}) {
    if (!std::filesystem::exists(needed)) {
      throw std::invalid_argument(fmt::format(
          "{} is missing: build infervisor-bench-e2e (it builds what it runs) or pass --build-dir",
          needed.string()));
    }
  }
}

std::string usage() {
  return "usage: infervisor-bench-e2e [--build-dir DIR] [--seconds S] [--quick] "
         "[--spin DURATION] [--max-inflight N]";
}

}  // namespace infervisor::bench::e2e
