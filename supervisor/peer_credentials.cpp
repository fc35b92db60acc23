#include "supervisor/peer_credentials.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>

#include <cerrno>

#include "supervisor/tcp_peer_owner.hpp"

namespace infervisor::supervisor {
namespace {

std::vector<gid_t> groups_in_database(uid_t uid, gid_t gid) {
  std::vector<char> scratch(4096);
  passwd entry{};
  passwd* found = nullptr;
  if (::getpwuid_r(uid, &entry, scratch.data(), scratch.size(), &found) != 0 || !found) return {};
  std::vector<gid_t> groups(64);
  for (int round = 0; round < 8; ++round) {
    int count = static_cast<int>(groups.size());
    if (::getgrouplist(found->pw_name, gid, groups.data(), &count) >= 0) {
      groups.resize(static_cast<std::size_t>(count));
      return groups;
    }
    groups.resize(static_cast<std::size_t>(count) + 1);  // count says how many there are
  }
  return {};
}

}  // namespace

RequestContext describe_peer(boost::asio::local::stream_protocol::socket& socket) {
  RequestContext context;
  context.transport = RequestContext::Transport::kUnix;
  ucred credentials{};
  socklen_t size = sizeof(credentials);
  if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &credentials, &size) == 0 &&
      size == sizeof(credentials)) {
    context.peer_uid = credentials.uid;
    context.peer_gid = credentials.gid;
    context.peer_pid = credentials.pid;
  }
  return context;
}

RequestContext describe_peer(boost::asio::ip::tcp::socket& socket) {
  RequestContext context;
  context.transport = RequestContext::Transport::kTcp;
  boost::system::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  const auto address = remote.address();
  if (!ec) {
    context.loopback =
        address.is_loopback() ||
        (address.is_v6() && address.to_v6().is_v4_mapped() &&
         boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6())
             .is_loopback());
  }
  if (context.loopback) {
    const auto local = socket.local_endpoint(ec);
    if (!ec) context.loopback_peer_uid = loopback_peer_uid(remote, local);
  }
  return context;
}

std::vector<gid_t> peer_groups(int fd, uid_t uid, gid_t gid) {
#ifdef SO_PEERGROUPS
  std::vector<gid_t> groups(64);
  for (int round = 0; round < 4; ++round) {
    socklen_t size = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &size) == 0) {
      groups.resize(size / sizeof(gid_t));
      return groups;
    }
    if (errno != ERANGE) break;
    groups.resize(size / sizeof(gid_t) + 1);  // size says how much is needed
  }
#else
  (void)fd;
#endif
  return groups_in_database(uid, gid);
}

}  // namespace infervisor::supervisor
