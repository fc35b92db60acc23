// infervisord: serves TorchScript models through isolated worker processes.
#include <spdlog/spdlog.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <span>
#include <string_view>

#include "common/cli_args.hpp"
#include "common/error.hpp"
#include "common/logging.hpp"
#include "supervisor/config.hpp"
#include "supervisor/daemon.hpp"
#include "supervisor/gpu_placement.hpp"
#include "supervisor/shm_space.hpp"

namespace {

constexpr std::string_view kUsage = R"(usage: infervisord --config FILE [--check-config]
       infervisord --version

  --config FILE    YAML configuration (socket, models, workers); see scripts/example.yaml
  --check-config   validate FILE, print what it would start, and exit
)";

int usage_error(std::string_view message) {
  std::fprintf(stderr, "infervisord: %.*s\n\n%.*s", static_cast<int>(message.size()),
               message.data(), static_cast<int>(kUsage.size()), kUsage.data());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace infervisor;
  std::string config_path;
  bool check_only = false;
  try {
    constexpr std::array<std::string_view, 4> kSwitches{"--check-config", "--version", "--help",
                                                        "-h"};
    const auto args = std::span<char* const>(argv + 1, static_cast<std::size_t>(argc - 1));
    for (const CliArg& arg : split_cli(args, kSwitches)) {
      if (arg.flag == "--config") {
        config_path = arg.value;
      } else if (arg.flag == "--check-config") {
        check_only = true;
      } else if (arg.flag == "--version") {
        std::puts("infervisord 0.1.0");
        return 0;
      } else if (arg.flag == "--help" || arg.flag == "-h") {
        std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
        return 0;
      } else {
        return usage_error(
            fmt::format("unknown argument '{}'", arg.flag.empty() ? arg.value : arg.flag));
      }
    }
  } catch (const UsageError& error) {
    return usage_error(error.what());
  }
  if (config_path.empty()) return usage_error("--config FILE is required");

  setup_logging("infervisord");
  // Writes to a peer that has gone must fail with EPIPE, not kill the daemon.
  std::signal(SIGPIPE, SIG_IGN);
  try {
    auto config = supervisor::load_config(config_path);
    spdlog::set_level(config.log_level);
    supervisor::place_gpu_workers(config);  // a missing GPU stops the daemon here
    if (check_only) {
      for (const auto& model : config.models) {
        std::printf(
            "model %s: %d worker(s), ring %llu bytes each way, %zu input(s), %zu output(s)\n",
            model.name.c_str(), supervisor::total_instances(model),
            static_cast<unsigned long long>(model.ring_bytes), model.inputs.size(),
            model.outputs.size());
        for (const auto& group : model.instance_groups) {
          std::printf("  %d on %s%s%s\n", group.count, group.device.to_string().c_str(),
                      group.device.gpu_uuid.empty() ? "" : " ", group.device.gpu_uuid.c_str());
        }
      }
      std::printf("socket %s; /dev/shm needed: %llu bytes\n", config.socket_path.c_str(),
                  static_cast<unsigned long long>(supervisor::shm_bytes_needed(config)));
      return 0;
    }
    supervisor::Daemon daemon(std::move(config));
    return daemon.run();
  } catch (const InfervisorError& error) {
    spdlog::critical("{}", error.what());
    return 1;
  } catch (const std::exception& error) {
    spdlog::critical("unexpected error: {}", error.what());
    return 1;
  }
}
