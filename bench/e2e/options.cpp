#include "bench/e2e/options.hpp"

#include <fmt/format.h>

#include <stdexcept>
#include <string_view>

namespace infervisor::bench::e2e {
namespace {

double parse_number(std::string_view flag, std::string_view text, double low, double high) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(std::string(text), &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || value < low || value > high) {
    throw std::invalid_argument(
        fmt::format("{} '{}': expected a number from {} to {}", flag, text, low, high));
  }
  return value;
}

}  // namespace

Options parse_options(std::span<char* const> args) {
  Options options;
  std::optional<double> seconds;  // applied after --quick, whichever comes first
  options.self = std::filesystem::read_symlink("/proc/self/exe");
  // <build>/bin/infervisor-bench-e2e: the build is two levels up.
  options.build_dir = options.self.parent_path().parent_path();
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view flag = args[i];
    if (flag == "--quick") {
      options.warm_up = std::chrono::milliseconds(300);
      options.measure = std::chrono::milliseconds(1000);
      options.socket_round_trips = 5000;
      options.baseline_iterations = 3000;
      continue;
    }
    if (flag != "--build-dir" && flag != "--seconds" && flag != "--spin" &&
        flag != "--spin-while-busy" && flag != "--max-inflight") {
      throw std::invalid_argument(fmt::format("unexpected argument '{}'", flag));
    }
    if (i + 1 >= args.size()) throw std::invalid_argument(fmt::format("{} needs a value", flag));
    const std::string_view value = args[++i];
    if (flag == "--build-dir") {
      options.build_dir = std::filesystem::absolute(value);
    } else if (flag == "--seconds") {
      seconds = parse_number(flag, value, 0.1, 600);
    } else if (flag == "--spin") {
      options.spin = value;  // the daemon checks it, and says what is wrong
    } else if (flag == "--spin-while-busy") {
      options.spin_while_busy = value;
    } else if (flag == "--max-inflight") {
      const double inflight = parse_number(flag, value, 1, 1024);
      if (inflight != static_cast<int>(inflight)) {
        throw std::invalid_argument(fmt::format("{} '{}': expected a whole number", flag, value));
      }
      options.max_inflight = static_cast<int>(inflight);
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
