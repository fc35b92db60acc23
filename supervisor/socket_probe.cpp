#include "supervisor/socket_probe.hpp"

#include <poll.h>
#include <sys/ioctl.h>

#include <cerrno>

namespace infervisor::supervisor {

PeerSignals probe_peer(int fd) noexcept {
  pollfd entry{fd, POLLIN | POLLRDHUP, 0};
  int ready = 0;
  do {
    ready = ::poll(&entry, 1, 0);
  } while (ready < 0 && errno == EINTR);
  if (ready < 0) return {};
  PeerSignals signals;
  signals.readable = (entry.revents & POLLIN) != 0;
  signals.half_closed = (entry.revents & POLLRDHUP) != 0;
  signals.gone = (entry.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0;
  return signals;
}

std::size_t bytes_available(int fd) noexcept {
  int bytes = 0;
  if (::ioctl(fd, FIONREAD, &bytes) != 0 || bytes < 0) return 0;
  return static_cast<std::size_t>(bytes);
}

}  // namespace infervisor::supervisor
