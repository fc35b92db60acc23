// Where the daemon listens and clients connect when nobody names a socket: one function both use,
// so they agree without configuration.
#pragma once

#include <filesystem>
#include <optional>
#include <string_view>

namespace infervisor {

// $INFERVISOR_SOCKET if set and non-empty; else $XDG_RUNTIME_DIR/infervisor/infervisor.sock for a
// non-root user with an (absolute) XDG_RUNTIME_DIR; else /run/infervisor/infervisor.sock.
std::filesystem::path default_socket_path();

// The same rule on explicit inputs (nullopt = variable unset), for tests and callers that already
// read the environment.
std::filesystem::path default_socket_path(std::optional<std::string_view> infervisor_socket,
                                          std::optional<std::string_view> xdg_runtime_dir,
                                          bool is_root);

}  // namespace infervisor
