#include "supervisor/peer_credentials.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/local/connect_pair.hpp>

namespace infervisor::supervisor {
namespace {

namespace ip = boost::asio::ip;
using Local = boost::asio::local::stream_protocol;

TEST(PeerCredentials_test, AUnixPeerIsKnownByUidGidAndPid) {
  boost::asio::io_context io;
  Local::socket ours(io);
  Local::socket theirs(io);
  boost::asio::local::connect_pair(ours, theirs);
  const auto context = describe_peer(ours);
  EXPECT_EQ(context.transport, RequestContext::Transport::kUnix);
  EXPECT_EQ(context.peer_uid, ::geteuid());
  EXPECT_EQ(context.peer_gid, ::getegid());
  EXPECT_EQ(context.peer_pid, ::getpid());
  EXPECT_FALSE(context.loopback);
  // Our own supplementary groups, as the kernel recorded them at connect time.
  std::vector<gid_t> expected(static_cast<std::size_t>(::getgroups(0, nullptr)));
  expected.resize(
      static_cast<std::size_t>(::getgroups(static_cast<int>(expected.size()), expected.data())));
  auto groups = peer_groups(ours.native_handle(), ::geteuid(), ::getegid());
  std::sort(groups.begin(), groups.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(groups, expected);
}

TEST(PeerCredentials_test, ATcpPeerOnLoopbackIsSaidToBe) {
  boost::asio::io_context io;
  ip::tcp::acceptor acceptor(io, ip::tcp::endpoint(ip::address_v4::loopback(), 0));
  ip::tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  auto server = acceptor.accept();
  const auto context = describe_peer(server);
  EXPECT_EQ(context.transport, RequestContext::Transport::kTcp);
  EXPECT_TRUE(context.loopback);
  EXPECT_FALSE(context.peer_uid);
}

}  // namespace
}  // namespace infervisor::supervisor
