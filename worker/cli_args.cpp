#include "worker/cli_args.hpp"

#include <algorithm>
#include <charconv>

#include "common/error.hpp"

namespace infervisor::worker {

std::vector<CliArg> split_cli(std::span<char* const> args,
                              std::span<const std::string_view> switches) {
  std::vector<CliArg> out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view word = args[i];
    if (!word.starts_with("--")) {
      out.push_back({{}, word});
    } else if (std::find(switches.begin(), switches.end(), word) != switches.end()) {
      out.push_back({word, {}});
    } else if (i + 1 < args.size()) {
      out.push_back({word, args[++i]});
    } else {
      throw InfervisorError(ErrorCode::kInvalidArgument,
                            fmt::format("{} needs a value and none follows it", word));
    }
  }
  return out;
}

std::int64_t parse_int_flag(const CliArg& arg, std::int64_t min, std::int64_t max) {
  std::int64_t value = 0;
  const auto* end = arg.value.data() + arg.value.size();
  const auto [stop, ec] = std::from_chars(arg.value.data(), end, value);
  if (ec != std::errc{} || stop != end || value < min || value > max) {
    throw InfervisorError(
        ErrorCode::kInvalidArgument,
        fmt::format("{} '{}' is not an integer in [{}, {}]", arg.flag, arg.value, min, max));
  }
  return value;
}

}  // namespace infervisor::worker
