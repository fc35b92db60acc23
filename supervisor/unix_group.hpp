// Group names or numbers from the config (socket_group, allow_groups), resolved once at start.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string_view>

namespace infervisor::supervisor {

// A decimal number is that gid, whether or not the group database knows it; anything else is
// looked up by name (getgrnam_r). nullopt if there is no such group.
std::optional<gid_t> find_group(std::string_view name_or_number);

// find_group(), or InfervisorError "CONFIG: KEY: no group named 'NAME'".
gid_t resolve_group(std::string_view name_or_number, const std::filesystem::path& config,
                    std::string_view key);

}  // namespace infervisor::supervisor
