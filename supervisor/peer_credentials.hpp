// Who is at the other end of an accepted connection, as the kernel vouches for it: for a Unix
// socket the uid, gid and pid the peer had when it connected (SO_PEERCRED) and its supplementary
// groups (SO_PEERGROUPS, Linux 4.13; else the group database's view of that uid); for TCP
// whether the peer's address is a loopback address and, if so, the uid that owns the peer's
// socket (tcp_peer_owner.hpp).
#pragma once

#include <sys/types.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <vector>

#include "supervisor/router.hpp"

namespace infervisor::supervisor {

// transport, peer_uid, peer_gid, peer_pid (unset if the kernel would not say).
RequestContext describe_peer(boost::asio::local::stream_protocol::socket& socket);
// transport, loopback.
RequestContext describe_peer(boost::asio::ip::tcp::socket& socket);

// The peer's supplementary groups when it connected. Without SO_PEERGROUPS: the groups the group
// database gives `uid` (getgrouplist), which a process can have dropped, never added to.
std::vector<gid_t> peer_groups(int fd, uid_t uid, gid_t gid);

}  // namespace infervisor::supervisor
