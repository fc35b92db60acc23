#include "worker/worker_options.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <set>
#include <string_view>

#include "common/cli_args.hpp"
#include "common/error.hpp"
#include "common/logging.hpp"
#include "shm/frame.hpp"

namespace infervisor::worker {
namespace {

constexpr std::int64_t kMaxInt = std::numeric_limits<int>::max();

void check_specs(std::string_view flag, const std::vector<TensorSpec>& specs,
                 std::vector<std::string>& problems) {
  if (specs.empty())
    problems.push_back(fmt::format("no {} given (at least one is required)", flag));
  std::set<std::string_view> seen;
  for (const auto& spec : specs) {
    // The frame format bounds tensor names; a longer one could never travel.
    if (spec.name.size() > shm::kMaxTensorNameBytes) {
      problems.push_back(fmt::format("{} name '{}' is longer than {} bytes", flag, spec.name,
                                     shm::kMaxTensorNameBytes));
    }
    if (!seen.insert(spec.name).second) {
      problems.push_back(fmt::format("{} '{}' is given twice", flag, spec.name));
    }
  }
}

}  // namespace

WorkerOptions parse_worker_options(std::span<char* const> args) {
  WorkerOptions out;
  std::vector<CliArg> parsed;
  try {
    parsed = split_cli(args);
  } catch (const InfervisorError& error) {
    out.channel_problems.emplace_back(error.what());
    return out;
  }
  std::set<std::string_view> given;
  for (const CliArg& arg : parsed) {
    given.insert(arg.flag);
    const bool channel_flag = arg.flag == "--segment" || arg.flag == "--generation" ||
                              arg.flag == "--supervisor-pid" || arg.flag == "--wakeup-fd" ||
                              arg.flag == "--spin-us" || arg.flag == "--log-level" ||
                              arg.flag == "--instance";
    try {
      if (arg.flag == "--segment") {
        out.channel.segment = arg.value;
      } else if (arg.flag == "--generation") {
        out.channel.generation = static_cast<std::uint64_t>(
            parse_int_flag(arg, 0, std::numeric_limits<std::int64_t>::max()));
      } else if (arg.flag == "--supervisor-pid") {
        out.channel.supervisor_pid = static_cast<pid_t>(parse_int_flag(arg, 1, kMaxInt));
      } else if (arg.flag == "--wakeup-fd") {
        out.channel.wakeup_fd = static_cast<int>(parse_int_flag(arg, -1, kMaxInt));
      } else if (arg.flag == "--spin-us") {
        out.channel.spin = std::chrono::microseconds(parse_int_flag(arg, 0, 1'000'000));
      } else if (arg.flag == "--instance") {
        out.channel.instance = static_cast<int>(parse_int_flag(arg, 0, kMaxInt));
      } else if (arg.flag == "--log-level") {
        const auto level = parse_log_level(arg.value);
        if (!level) {
          throw InfervisorError(ErrorCode::kInvalidArgument,
                                fmt::format("--log-level '{}' is not one of trace, debug, info, "
                                            "warn, error, critical, off",
                                            arg.value));
        }
        out.channel.log_level = *level;
      } else if (arg.flag == "--model-name") {
        if (arg.value.empty() || arg.value.size() > shm::kMaxModelNameBytes) {
          throw InfervisorError(ErrorCode::kInvalidArgument,
                                fmt::format("--model-name '{}' must be 1-{} bytes", arg.value,
                                            shm::kMaxModelNameBytes));
        }
        out.model.name = arg.value;
      } else if (arg.flag == "--model-path") {
        out.model.path = arg.value;
      } else if (arg.flag == "--device") {
        out.model.device = arg.value;
      } else if (arg.flag == "--threads") {
        out.model.threads = static_cast<int>(parse_int_flag(arg, 1, 1024));
      } else if (arg.flag == "--interop-threads") {
        out.model.interop_threads = static_cast<int>(parse_int_flag(arg, 1, 1024));
      } else if (arg.flag == "--input") {
        out.model.inputs.push_back(parse_tensor_spec(arg.value));
      } else if (arg.flag == "--output") {
        out.model.outputs.push_back(parse_tensor_spec(arg.value));
      } else if (arg.flag == "--library") {
        if (arg.value.empty()) {
          throw InfervisorError(ErrorCode::kInvalidArgument, "--library needs a file name");
        }
        out.model.libraries.emplace_back(arg.value);
      } else if (arg.flag.empty()) {
        throw InfervisorError(ErrorCode::kInvalidArgument,
                              fmt::format("unexpected argument '{}'", arg.value));
      } else {
        throw InfervisorError(ErrorCode::kInvalidArgument,
                              fmt::format("unknown option {}", arg.flag));
      }
    } catch (const InfervisorError& error) {
      (channel_flag ? out.channel_problems : out.model_problems).emplace_back(error.what());
    }
  }
  for (const std::string_view flag :
       {"--segment", "--generation", "--supervisor-pid", "--wakeup-fd"}) {
    if (!given.contains(flag)) out.channel_problems.push_back(fmt::format("{} is required", flag));
  }
  for (const std::string_view flag : {"--model-name", "--model-path", "--device", "--threads"}) {
    if (!given.contains(flag)) out.model_problems.push_back(fmt::format("{} is required", flag));
  }
  check_specs("--input", out.model.inputs, out.model_problems);
  check_specs("--output", out.model.outputs, out.model_problems);
  return out;
}

}  // namespace infervisor::worker
