// The daemon's Unix socket: bound and listening, its file removed again on destruction. Refuses
// to steal the path from a live daemon; removes a stale socket file left by a dead one. Who may
// connect is first the file's business (connect(2) needs write permission on it): its mode and
// group (socket_mode, socket_group) are set before it listens, so no one connects in between.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <filesystem>
#include <optional>

namespace infervisor::supervisor {

class UnixSocketFile {
 public:
  // Creates the parent folder (0755) if needed, binds, gives the file `group` (if set) and `mode`,
  // listens. Throws InfervisorError with the path and the reason.
  UnixSocketFile(boost::asio::io_context& io, std::filesystem::path path, unsigned mode = 0660,
                 std::optional<gid_t> group = std::nullopt);
  UnixSocketFile(const UnixSocketFile&) = delete;
  UnixSocketFile& operator=(const UnixSocketFile&) = delete;
  ~UnixSocketFile();

  const std::filesystem::path& path() const noexcept { return path_; }
  // Hands the listening acceptor over (once).
  boost::asio::local::stream_protocol::acceptor take_acceptor() { return std::move(acceptor_); }
  // Removes the file now (when the daemon stops accepting); the destructor then does nothing.
  void remove() noexcept;

 private:
  std::filesystem::path path_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  bool owned_ = false;
};

}  // namespace infervisor::supervisor
