#include "supervisor/unix_socket_file.hpp"

#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.hpp"

namespace infervisor::supervisor {
namespace local = boost::asio::local;

namespace {

[[noreturn]] void fail(const std::filesystem::path& path, std::string_view why) {
  throw InfervisorError(ErrorCode::kSystem, fmt::format("socket {}: {}", path.string(), why));
}

// True if a daemon answers on `path`.
bool someone_listens(boost::asio::io_context& io, const std::filesystem::path& path) {
  local::stream_protocol::socket probe(io);
  boost::system::error_code ec;
  probe.connect(local::stream_protocol::endpoint(path.string()), ec);
  return !ec;
}

}  // namespace

UnixSocketFile::UnixSocketFile(boost::asio::io_context& io, std::filesystem::path path,
                               unsigned mode, std::optional<gid_t> group)
    : path_(std::move(path)), acceptor_(io) {
  if (path_.string().size() >= sizeof(sockaddr_un::sun_path)) {
    fail(path_, fmt::format("the path is longer than the {} bytes a Unix socket allows",
                            sizeof(sockaddr_un::sun_path) - 1));
  }
  std::error_code fs_ec;
  if (path_.has_parent_path()) std::filesystem::create_directories(path_.parent_path(), fs_ec);
  if (fs_ec) fail(path_, fmt::format("cannot create its folder: {}", fs_ec.message()));
  if (std::filesystem::is_socket(std::filesystem::symlink_status(path_, fs_ec))) {
    if (someone_listens(io, path_)) fail(path_, "another daemon is listening on it");
    std::filesystem::remove(path_, fs_ec);  // stale: its daemon died without cleaning up
  } else if (std::filesystem::exists(std::filesystem::symlink_status(path_, fs_ec))) {
    fail(path_, "the path exists and is not a socket");
  }
  boost::system::error_code ec;
  acceptor_.open(local::stream_protocol(), ec);
  if (!ec) acceptor_.bind(local::stream_protocol::endpoint(path_.string()), ec);
  if (ec) fail(path_, fmt::format("cannot bind: {}", ec.message()));
  owned_ = true;
  // A constructor that throws runs no destructor: the file it bound goes with the exception.
  const auto fail_bound = [&](std::string_view why) {
    remove();
    fail(path_, why);
  };
  // By path: a socket's own descriptor does not reach the file's inode. The folder is ours, and
  // lchown does not follow a symlink that someone might have put in the file's place.
  if (group && ::lchown(path_.c_str(), static_cast<uid_t>(-1), *group) != 0) {
    fail_bound(
        fmt::format("cannot give it group {} (socket_group): {}", *group, std::strerror(errno)));
  }
  if (::chmod(path_.c_str(), mode) != 0) {
    fail_bound(
        fmt::format("cannot set its mode to {:04o} (socket_mode): {}", mode, std::strerror(errno)));
  }
  acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) fail_bound(fmt::format("cannot listen: {}", ec.message()));
}

UnixSocketFile::~UnixSocketFile() {
  remove();
}

void UnixSocketFile::remove() noexcept {
  if (!owned_) return;
  owned_ = false;
  std::error_code ignored;
  std::filesystem::remove(path_, ignored);
}

}  // namespace infervisor::supervisor
