#include "common/logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <unistd.h>

#include <array>
#include <string>

namespace infervisor {

void setup_logging(std::string_view program, spdlog::level::level_enum level) {
  auto logger = spdlog::stderr_logger_mt(std::string(program) + "." + std::to_string(::getpid()));
  logger->set_pattern(fmt::format("%Y-%m-%d %H:%M:%S.%e {}[{}] %l: %v", program, ::getpid()));
  logger->set_level(level);
  // Errors must reach the journal even if the process dies right after logging them.
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}

std::optional<spdlog::level::level_enum> parse_log_level(std::string_view name) {
  // "warning" and "err" too: spdlog's own names for its levels.
  constexpr std::array<std::pair<std::string_view, spdlog::level::level_enum>, 9> kLevels{{
      {"trace", spdlog::level::trace},
      {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},
      {"warn", spdlog::level::warn},
      {"warning", spdlog::level::warn},
      {"err", spdlog::level::err},
      {"error", spdlog::level::err},
      {"critical", spdlog::level::critical},
      {"off", spdlog::level::off},
  }};
  for (const auto& [level_name, level] : kLevels) {
    if (level_name == name) return level;
  }
  return std::nullopt;
}

}  // namespace infervisor
