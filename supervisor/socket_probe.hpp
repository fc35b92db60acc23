// What the peer of a connected stream socket has done, seen without reading anything: poll() with
// a zero timeout, and FIONREAD.
//
// Unix-domain sockets tell the two ways of stopping apart exactly: shutdown(SHUT_WR) by the peer
// raises POLLRDHUP only; close(), exit or shutdown(SHUT_RDWR) also raise POLLHUP. TCP cannot: a FIN
// is a FIN, whether the peer only stopped sending or closed; POLLHUP or POLLERR come once the peer
// resets the connection (which it does when data reaches a socket it has closed).
#pragma once

#include <cstddef>

namespace infervisor::supervisor {

struct PeerSignals {
  bool readable = false;     // bytes to read, or end of stream
  bool half_closed = false;  // the peer sends no more (it may still read)
  bool gone = false;         // neither direction works any more: closed, reset or an error
  bool any() const noexcept { return readable || half_closed || gone; }
};

PeerSignals probe_peer(int fd) noexcept;

// Bytes received and not yet read (0 on error).
std::size_t bytes_available(int fd) noexcept;

}  // namespace infervisor::supervisor
