#include "supervisor/socket_probe.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>

#include "common/unique_fd.hpp"

namespace infervisor::supervisor {
namespace {

struct Pair {
  UniqueFd ours;
  UniqueFd peer;
};

Pair unix_pair() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

Pair tcp_pair() {
  boost::asio::io_context io;
  namespace ip = boost::asio::ip;
  ip::tcp::acceptor acceptor(io, ip::tcp::endpoint(ip::address_v4::loopback(), 0));
  ip::tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  ip::tcp::socket server = acceptor.accept();
  return {UniqueFd(server.release()), UniqueFd(client.release())};
}

void send_byte(int fd) {
  ASSERT_EQ(::write(fd, "x", 1), 1);
}

// A probe right after the peer acted can come before the kernel delivered it (TCP over loopback
// is delivered at once, but a Unix peer's close is too); poll for the state, bounded.
template <class Condition>
PeerSignals probe_until(int fd, Condition condition) {
  PeerSignals signals;
  for (int i = 0; i < 1000; ++i) {
    signals = probe_peer(fd);
    if (condition(signals)) break;
    ::usleep(1000);
  }
  return signals;
}

TEST(SocketProbe_test, UnixSocketsTellAHalfCloseFromAClose) {
  auto pair = unix_pair();
  EXPECT_FALSE(probe_peer(pair.ours.get()).any());
  send_byte(pair.peer.get());
  auto signals = probe_peer(pair.ours.get());
  EXPECT_TRUE(signals.readable);
  EXPECT_FALSE(signals.half_closed || signals.gone);
  EXPECT_EQ(bytes_available(pair.ours.get()), 1u);
  ::shutdown(pair.peer.get(), SHUT_WR);
  signals = probe_peer(pair.ours.get());
  EXPECT_TRUE(signals.half_closed);
  EXPECT_FALSE(signals.gone);  // it may still read our answer
  pair.peer.reset();
  signals = probe_peer(pair.ours.get());
  EXPECT_TRUE(signals.gone);
  EXPECT_EQ(bytes_available(pair.ours.get()), 1u);  // what it sent before is still there
}

TEST(SocketProbe_test, ShutdownOfBothDirectionsIsGoneToo) {
  auto pair = unix_pair();
  ::shutdown(pair.peer.get(), SHUT_RDWR);
  EXPECT_TRUE(probe_peer(pair.ours.get()).gone);
}

// TCP: a FIN is a FIN. The probe sees a half-close whether the peer closed or half-closed; only
// a reset says the peer is gone.
TEST(SocketProbe_test, TcpSeesAFinAsAHalfCloseAndAResetAsGone) {
  auto pair = tcp_pair();
  EXPECT_FALSE(probe_peer(pair.ours.get()).any());
  pair.peer.reset();  // close(): a FIN
  auto signals = probe_until(pair.ours.get(), [](PeerSignals s) { return s.half_closed; });
  EXPECT_TRUE(signals.half_closed);
  EXPECT_FALSE(signals.gone);
  // Our next write reaches a closed socket, which answers with a reset.
  ::send(pair.ours.get(), "answer", 6, MSG_NOSIGNAL);
  signals = probe_until(pair.ours.get(), [](PeerSignals s) { return s.gone; });
  EXPECT_TRUE(signals.gone);

  auto reset = tcp_pair();
  const linger abort_on_close{1, 0};
  ASSERT_EQ(::setsockopt(reset.peer.get(), SOL_SOCKET, SO_LINGER, &abort_on_close,
                         sizeof(abort_on_close)),
            0);
  reset.peer.reset();  // close() with linger 0: a reset
  EXPECT_TRUE(probe_until(reset.ours.get(), [](PeerSignals s) { return s.gone; }).gone);
}

}  // namespace
}  // namespace infervisor::supervisor
