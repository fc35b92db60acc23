// infervisorctl's command line: parsed into a plain struct with no I/O, so it is testable alone.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/cli_args.hpp"

namespace infervisor::client {

// A command line that cannot be run as written; infervisorctl exits 2 for it.
using UsageError = infervisor::UsageError;

enum class CtlCommand { kHelp, kHealth, kModels, kMetadata, kInfer, kLoad, kUnload, kStats, kTop };

struct CtlInput {
  std::string name;
  std::filesystem::path file;
};

struct CtlArgs {
  CtlCommand command = CtlCommand::kHelp;
  std::optional<std::filesystem::path> socket;   // --socket PATH
  std::optional<std::string> url;                // --url http://HOST:PORT
  std::optional<double> timeout_seconds;         // --timeout SECONDS
  std::string model;                             // metadata, infer, load, unload, [stats, top]
  std::vector<CtlInput> inputs;                  // infer --input NAME=FILE.npy
  std::vector<std::string> outputs;              // infer --output NAME
  std::optional<std::filesystem::path> out_dir;  // infer --out DIR
  bool json = false;                             // infer --json
  bool shm = false;                              // infer --shm
  std::uint64_t priority = 0;                    // infer --priority LEVEL (0: not sent)
  double interval_seconds = 1;                   // top --interval SECONDS
  std::optional<std::int64_t> count;             // top --count N: refreshes, then exit
};

// `args` excludes the program name. Options may come before or after the command, as
// "--name VALUE" or "--name=VALUE". Throws UsageError saying what is wrong.
CtlArgs parse_ctl_args(std::span<const std::string_view> args);

std::string_view ctl_usage();

}  // namespace infervisor::client
