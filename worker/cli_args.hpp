// The command lines of the worker and its tools: "--flag value" pairs and bare "--switch"es, plus
// positional words, read in order. Only the splitting and number parsing live here; each program
// decides what its flags mean.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace infervisor::worker {

struct CliArg {
  std::string_view flag;   // "--model"; empty for a positional word
  std::string_view value;  // the flag's value, the positional word, or empty for a switch
};

// Splits argv (without argv[0]). `switches` lists the flags that take no value; every other
// "--flag" takes the next word. Throws InfervisorError if a flag's value is missing.
std::vector<CliArg> split_cli(std::span<char* const> args,
                              std::span<const std::string_view> switches = {});

// "--threads" "4" -> 4, within [min, max]; throws InfervisorError naming the flag otherwise.
std::int64_t parse_int_flag(const CliArg& arg, std::int64_t min, std::int64_t max);

}  // namespace infervisor::worker
