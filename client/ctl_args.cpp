#include "client/ctl_args.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cmath>
#include <set>

namespace infervisor::client {
namespace {

constexpr std::string_view kUsage =
    R"(usage: infervisorctl [--socket PATH | --url http://HOST:PORT] [--timeout SECONDS] COMMAND

commands:
  health                  print whether the server is live and ready; exit 1 if not ready
  models                  list the models in the repository index: name, version, state
  metadata MODEL          print a model's versions, platform, inputs and outputs
  load MODEL              start a FAILED or unloaded model, or replace a ready model's workers
                          one at a time with fresh ones (which read the model file again)
  unload MODEL            let the model's jobs finish, then stop its workers
  infer MODEL --input NAME=FILE.npy ... [--output NAME ...] [--out DIR] [--json] [--shm]
        [--priority LEVEL]
                          run the model on .npy inputs (dtype and shape come from each file)
                          and print each output's datatype, shape, first values, min/max/mean
  stats [MODEL]           print each model's (or MODEL's) statistics: requests ok and failed,
                          inferences, executions and average batch, average queue and compute
                          times, latency p50/p99, workers
  top [MODEL] [--interval SECONDS] [--count N]
                          refresh every SECONDS (default 1) with each model's requests/s,
                          inferences/s, average batch, queue and compute time per execution,
                          latency and workers over the last interval; stop after N refreshes,
                          else on Ctrl-C

options:
  --socket PATH           the daemon's Unix socket (default: $INFERVISOR_SOCKET, else
                          $XDG_RUNTIME_DIR/infervisor/infervisor.sock, or
                          /run/infervisor/infervisor.sock for root or without XDG_RUNTIME_DIR)
  --url http://HOST:PORT  talk to the daemon over TCP instead
  --timeout SECONDS       give up on connecting or on a reply after this long (default 60)
  --input NAME=FILE.npy   an input tensor (repeat for each input)
  --output NAME           request only this output (repeat; default: all outputs)
  --out DIR               also write each output to DIR/NAME.npy
  --json                  send and receive tensors as JSON instead of binary
  --shm                   pass the tensors through POSIX shared-memory regions (the server's
                          system_shared_memory extension) instead of the socket; an output
                          whose size the model metadata does not fix comes in the reply
  --priority LEVEL        infer: Triton's request priority, 1 the most urgent (the model needs
                          priority_levels)
  --interval SECONDS      top: time between refreshes, 0.1 to 3600 (default 1)
  --count N               top: stop after N refreshes
  -h, --help              print this help

exit status: 0 success, 1 failure (or server not ready), 2 bad command line
)";

constexpr double kMaxTimeoutSeconds = 7 * 24 * 3600;
constexpr double kMinIntervalSeconds = 0.1;  // a faster refresh is unreadable and loads the server
constexpr double kMaxIntervalSeconds = 3600;
constexpr std::int64_t kMaxCount = 1'000'000'000;

[[noreturn]] void usage_error(std::string message) {
  throw UsageError(std::move(message));
}

CtlCommand command_from(std::string_view word) {
  if (word == "health") return CtlCommand::kHealth;
  if (word == "models") return CtlCommand::kModels;
  if (word == "metadata") return CtlCommand::kMetadata;
  if (word == "infer") return CtlCommand::kInfer;
  if (word == "load") return CtlCommand::kLoad;
  if (word == "unload") return CtlCommand::kUnload;
  if (word == "stats") return CtlCommand::kStats;
  if (word == "top") return CtlCommand::kTop;
  usage_error(fmt::format("unknown command '{}'", word));
}

double parse_timeout(std::string_view text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value) ||
      value <= 0 || value > kMaxTimeoutSeconds) {
    usage_error(fmt::format("--timeout '{}' is not a number of seconds above 0", text));
  }
  return value;
}

CtlInput parse_input(std::string_view text) {
  const auto equals = text.find('=');
  if (equals == std::string_view::npos || equals == 0 || equals + 1 == text.size()) {
    usage_error(fmt::format("--input '{}' is not NAME=FILE.npy", text));
  }
  return CtlInput{std::string(text.substr(0, equals)), std::string(text.substr(equals + 1))};
}

// Walks the split arguments once: options (with their values) anywhere, and the positional
// words (command, then model) in order.
class Parser {
 public:
  explicit Parser(std::span<const std::string_view> args) : args_(args) {}

  CtlArgs parse() {
    constexpr std::array<std::string_view, 4> kSwitches{"--json", "--shm", "--help", "-h"};
    std::vector<std::string_view> words;
    for (const CliArg& arg : split_cli(args_, kSwitches)) {
      if (arg.flag == "-h" || arg.flag == "--help") return CtlArgs{};
      if (!arg.flag.empty()) {
        option(arg);
      } else if (arg.value.starts_with('-') && arg.value.size() > 1) {
        usage_error(fmt::format("unknown option '{}'", arg.value));
      } else {
        words.push_back(arg.value);
      }
    }
    if (words.empty()) usage_error("no command given");
    out_.command = command_from(words[0]);
    const bool takes_model =
        out_.command == CtlCommand::kMetadata || out_.command == CtlCommand::kInfer ||
        out_.command == CtlCommand::kLoad || out_.command == CtlCommand::kUnload;
    if (takes_model) {
      if (words.size() < 2) usage_error(fmt::format("'{}' needs a MODEL", words[0]));
      out_.model = std::string(words[1]);
    }
    const bool may_take_model =
        out_.command == CtlCommand::kStats || out_.command == CtlCommand::kTop;
    if (may_take_model && words.size() >= 2) out_.model = std::string(words[1]);
    const std::size_t expected_words = takes_model || may_take_model ? 2 : 1;
    if (words.size() > expected_words) {
      usage_error(fmt::format("unexpected argument '{}'", words[expected_words]));
    }
    if (out_.command != CtlCommand::kInfer && !infer_options_.empty()) {
      usage_error(fmt::format("{} is only for 'infer'", *infer_options_.begin()));
    }
    if (out_.command != CtlCommand::kTop && !top_options_.empty()) {
      usage_error(fmt::format("{} is only for 'top'", *top_options_.begin()));
    }
    if (out_.command == CtlCommand::kInfer && out_.inputs.empty()) {
      usage_error("'infer' needs at least one --input NAME=FILE.npy");
    }
    if (out_.socket && out_.url) usage_error("give --socket or --url, not both");
    return out_;
  }

 private:
  void option(const CliArg& arg) {
    const std::string_view name = arg.flag;
    const std::string_view value = arg.value;
    if (name == "--json") {
      out_.json = true;
      infer_options_.insert("--json");
    } else if (name == "--shm") {
      out_.shm = true;
      infer_options_.insert("--shm");
    } else if (name == "--socket") {
      if (out_.socket) usage_error("--socket given twice");
      out_.socket = std::string(value);
    } else if (name == "--url") {
      if (out_.url) usage_error("--url given twice");
      out_.url = std::string(value);
    } else if (name == "--timeout") {
      out_.timeout_seconds = parse_timeout(value);
    } else if (name == "--input") {
      auto input = parse_input(value);
      for (const auto& existing : out_.inputs) {
        if (existing.name == input.name)
          usage_error(fmt::format("input '{}' given twice", input.name));
      }
      out_.inputs.push_back(std::move(input));
      infer_options_.insert("--input");
    } else if (name == "--output") {
      if (value.empty()) usage_error("--output needs a name");
      out_.outputs.emplace_back(value);
      infer_options_.insert("--output");
    } else if (name == "--out") {
      if (out_.out_dir) usage_error("--out given twice");
      out_.out_dir = std::string(value);
      infer_options_.insert("--out");
    } else if (name == "--priority") {
      out_.priority = static_cast<std::uint64_t>(parse_int_flag(arg, 1, kMaxCount));
      infer_options_.insert("--priority");
    } else if (name == "--interval") {
      out_.interval_seconds = parse_number_flag(arg, kMinIntervalSeconds, kMaxIntervalSeconds);
      top_options_.insert("--interval");
    } else if (name == "--count") {
      out_.count = parse_int_flag(arg, 1, kMaxCount);
      top_options_.insert("--count");
    } else {
      usage_error(fmt::format("unknown option '{}'", name));
    }
  }

  std::span<const std::string_view> args_;
  CtlArgs out_;
  std::set<std::string_view> infer_options_;  // seen, to refuse them on other commands
  std::set<std::string_view> top_options_;
};

}  // namespace

CtlArgs parse_ctl_args(std::span<const std::string_view> args) {
  return Parser(args).parse();
}

std::string_view ctl_usage() {
  return kUsage;
}

}  // namespace infervisor::client
