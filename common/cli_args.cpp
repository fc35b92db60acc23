#include "common/cli_args.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace infervisor {

std::vector<CliArg> split_cli(std::span<const std::string_view> args,
                              std::span<const std::string_view> switches) {
  auto is_switch = [&](std::string_view word) {
    return std::find(switches.begin(), switches.end(), word) != switches.end();
  };
  std::vector<CliArg> out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view word = args[i];
    if (is_switch(word)) {
      out.push_back({word, {}});
      continue;
    }
    if (!word.starts_with("--")) {
      out.push_back({{}, word});
      continue;
    }
    if (const auto equals = word.find('='); equals != std::string_view::npos) {
      const std::string_view flag = word.substr(0, equals);
      if (is_switch(flag)) throw UsageError(fmt::format("{} takes no value", flag));
      out.push_back({flag, word.substr(equals + 1)});
    } else if (i + 1 < args.size()) {
      out.push_back({word, args[++i]});
    } else {
      throw UsageError(fmt::format("{} needs a value and none follows it", word));
    }
  }
  return out;
}

std::vector<CliArg> split_cli(std::span<char* const> args,
                              std::span<const std::string_view> switches) {
  const std::vector<std::string_view> words(args.begin(), args.end());
  return split_cli(std::span<const std::string_view>(words), switches);
}

std::int64_t parse_int_flag(const CliArg& arg, std::int64_t min, std::int64_t max) {
  std::int64_t value = 0;
  const auto* end = arg.value.data() + arg.value.size();
  const auto [stop, ec] = std::from_chars(arg.value.data(), end, value);
  if (ec != std::errc{} || stop != end || value < min || value > max) {
    throw UsageError(
        fmt::format("{} '{}' is not an integer in [{}, {}]", arg.flag, arg.value, min, max));
  }
  return value;
}

double parse_number_flag(const CliArg& arg, double min, double max) {
  double value = 0;
  const auto* end = arg.value.data() + arg.value.size();
  const auto [stop, ec] = std::from_chars(arg.value.data(), end, value);
  if (ec != std::errc{} || stop != end || !std::isfinite(value) || value < min || value > max) {
    throw UsageError(
        fmt::format("{} '{}': expected a number from {} to {}", arg.flag, arg.value, min, max));
  }
  return value;
}

}  // namespace infervisor
