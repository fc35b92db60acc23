#include "common/socket_path.hpp"

#include <unistd.h>

#include <cstdlib>

namespace infervisor {
namespace {

std::optional<std::string_view> env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string_view(value);
}

}  // namespace

std::filesystem::path default_socket_path() {
  return default_socket_path(env("INFERVISOR_SOCKET"), env("XDG_RUNTIME_DIR"), ::geteuid() == 0);
}

std::filesystem::path default_socket_path(std::optional<std::string_view> infervisor_socket,
                                          std::optional<std::string_view> xdg_runtime_dir,
                                          bool is_root) {
  if (infervisor_socket && !infervisor_socket->empty()) return *infervisor_socket;
  // The XDG spec says a relative XDG_RUNTIME_DIR is invalid and must be ignored. Root uses /run
  // even when a login session set XDG_RUNTIME_DIR, so `sudo infervisorctl` finds the system daemon.
  if (!is_root && xdg_runtime_dir && xdg_runtime_dir->starts_with('/')) {
    return std::filesystem::path(*xdg_runtime_dir) / "infervisor" / "infervisor.sock";
  }
  return "/run/infervisor/infervisor.sock";
}

}  // namespace infervisor
