// Command lines, the same way in every program: "--flag value" or "--flag=value", bare switches
// ("--quick", "-h"), and positional words, split in order. Each program then walks the split
// words once and decides what its flags mean; only the splitting, the number parsing and the
// error type live here.
//
// ABI-neutral on purpose: only string_view, span, vector of those and integers cross this
// header, and errors are exceptions read through what(). infervisor-make-example, built with
// libtorch's compile flags, uses it too (worker/model_runner.hpp explains why that matters).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace infervisor {

// A command line that cannot be run as written; programs exit 2 for it (the worker reports it).
class UsageError : public InfervisorError {
 public:
  explicit UsageError(const std::string& message)
      : InfervisorError(ErrorCode::kInvalidArgument, message) {}
};

struct CliArg {
  std::string_view flag;   // "--model"; empty for a positional word
  std::string_view value;  // the flag's value, the positional word, or empty for a switch

  bool operator==(const CliArg&) const = default;
};

// Splits the arguments (without argv[0]). `switches` lists the flags that take no value; every
// other word starting with "--" is a flag that takes a value: what follows its '=', or else the
// next word, whatever it is. Any other word is positional ("-x" too, unless it is a switch).
// Throws UsageError if a flag's value is missing or a switch is given one.
std::vector<CliArg> split_cli(std::span<const std::string_view> args,
                              std::span<const std::string_view> switches = {});
std::vector<CliArg> split_cli(std::span<char* const> args,
                              std::span<const std::string_view> switches = {});

// "--threads" "4" -> 4, within [min, max]; throws UsageError naming the flag otherwise.
std::int64_t parse_int_flag(const CliArg& arg, std::int64_t min, std::int64_t max);

// "--seconds" "2.5" -> 2.5, finite and within [min, max]; throws UsageError naming the flag
// otherwise.
double parse_number_flag(const CliArg& arg, double min, double max);

}  // namespace infervisor
