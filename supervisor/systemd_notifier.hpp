// Tells systemd (Type=notify) how the daemon is doing: READY=1 once every model is ready,
// STATUS= lines with worker counts, STOPPING=1 at shutdown, WATCHDOG=1 from the event loop.
// Does nothing when the daemon was not started by systemd (no NOTIFY_SOCKET).
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace infervisor::supervisor {

class SystemdNotifier {
 public:
  SystemdNotifier();

  void ready(std::string_view status) const;
  void status(std::string_view status) const;
  void stopping(std::string_view status) const;
  void watchdog() const;

  // How often to send WATCHDOG=1 (half of WatchdogSec), if systemd asked for it.
  std::optional<std::chrono::microseconds> watchdog_period() const noexcept {
    return watchdog_period_;
  }

 private:
  void send(std::string_view message) const;

  std::optional<std::chrono::microseconds> watchdog_period_;
};

}  // namespace infervisor::supervisor
