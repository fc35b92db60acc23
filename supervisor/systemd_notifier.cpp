#include "supervisor/systemd_notifier.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <string>

#if INFERVISOR_HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#else
#include <sys/socket.h>
#include <sys/un.h>

#include <cstdlib>
#include <cstring>

#include "common/unique_fd.hpp"
#endif

namespace infervisor::supervisor {
namespace {

#if INFERVISOR_HAVE_LIBSYSTEMD
std::optional<std::chrono::microseconds> watchdog_interval() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) return std::chrono::microseconds(usec);
  return std::nullopt;
}

void notify(std::string_view message) {
  const std::string text(message);
  sd_notify(0, text.c_str());
}
#else
// The sd_notify protocol, for hosts without libsystemd's headers: one datagram to NOTIFY_SOCKET
// (a path, or an abstract name starting with '@'); WATCHDOG_USEC/WATCHDOG_PID in the environment.
std::optional<std::chrono::microseconds> watchdog_interval() {
  const char* usec = std::getenv("WATCHDOG_USEC");
  const char* pid = std::getenv("WATCHDOG_PID");
  if (!usec) return std::nullopt;
  if (pid && std::strtol(pid, nullptr, 10) != ::getpid()) return std::nullopt;
  const auto value = std::strtoull(usec, nullptr, 10);
  if (value == 0) return std::nullopt;
  return std::chrono::microseconds(value);
}

void notify(std::string_view message) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path) return;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::size_t length = std::strlen(path);
  if (length >= sizeof(address.sun_path)) return;
  std::memcpy(address.sun_path, path, length);
  if (address.sun_path[0] == '@') address.sun_path[0] = '\0';
  const UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return;
  ::sendto(fd.get(), message.data(), message.size(), MSG_NOSIGNAL,
           reinterpret_cast<const sockaddr*>(&address),
           static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length));
}
#endif

}  // namespace

SystemdNotifier::SystemdNotifier() {
  if (const auto interval = watchdog_interval()) watchdog_period_ = *interval / 2;
}

void SystemdNotifier::send(std::string_view message) const {
  notify(message);
}

void SystemdNotifier::ready(std::string_view status) const {
  send(fmt::format("READY=1\nSTATUS={}", status));
}

void SystemdNotifier::status(std::string_view status) const {
  send(fmt::format("STATUS={}", status));
}

void SystemdNotifier::stopping(std::string_view status) const {
  send(fmt::format("STOPPING=1\nSTATUS={}", status));
}

void SystemdNotifier::watchdog() const {
  send("WATCHDOG=1");
}

}  // namespace infervisor::supervisor
