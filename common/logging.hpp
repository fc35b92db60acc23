// The one logger setup every executable calls first: spdlog to stderr, with the program name.
#pragma once

#include <spdlog/spdlog.h>

#include <optional>
#include <string_view>

namespace infervisor {

// Installs a stderr logger named `program` as spdlog's default. Lines look like
// "2026-11-23 10:00:00.123 infervisord[4242] info: message".
void setup_logging(std::string_view program, spdlog::level::level_enum level = spdlog::level::info);

// "trace", "debug", "info", "warn", "error", "critical", "off"; nullopt for anything else.
std::optional<spdlog::level::level_enum> parse_log_level(std::string_view name);

}  // namespace infervisor
