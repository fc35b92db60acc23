#include "supervisor/tcp_peer_owner.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "common/unique_fd.hpp"
#include "supervisor/peer_credentials.hpp"

namespace infervisor::supervisor {
namespace {

namespace ip = boost::asio::ip;

ip::tcp::endpoint endpoint(const char* address, unsigned short port) {
  return {ip::make_address(address), port};
}

// An address as /proc/net/tcp{,6} prints it on this host: each 32-bit word of the address as it
// sits in memory, read as a host integer and printed %08X.
std::string proc_hex(const ip::address& address) {
  std::string out;
  auto append_words = [&out](const unsigned char* bytes, std::size_t size) {
    for (std::size_t i = 0; i < size; i += 4) {
      std::uint32_t word = 0;
      std::memcpy(&word, bytes + i, 4);
      char text[9];
      std::snprintf(text, sizeof(text), "%08X", word);
      out += text;
    }
  };
  if (address.is_v4()) {
    const auto bytes = address.to_v4().to_bytes();
    append_words(bytes.data(), bytes.size());
  } else {
    const auto bytes = address.to_v6().to_bytes();
    append_words(bytes.data(), bytes.size());
  }
  return out;
}

// One line as the kernel's tcp4_seq_show / tcp6_seq_show print it.
std::string entry(int slot, const ip::tcp::endpoint& local, const ip::tcp::endpoint& remote,
                  const char* state, unsigned uid) {
  char text[512];
  std::snprintf(text, sizeof(text),
                "%4d: %s:%04X %s:%04X %s 00000000:00000000 00:00000000 00000000 %5u        0 "
                "%d 1 0000000000000000 20 4 30 10 -1\n",
                slot, proc_hex(local.address()).c_str(), local.port(),
                proc_hex(remote.address()).c_str(), remote.port(), state, uid, 40000 + slot);
  return text;
}

constexpr const char* kHeader4 =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n";
constexpr const char* kHeader6 =
    "  sl  local_address                         remote_address                        st "
    "tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

// The daemon listens on 127.0.0.1:8000 as uid 100; a client of uid 1000 connected from :51234.
TEST(TcpPeerOwner_test, FindsTheClientsEndOfALoopbackConnection) {
  const auto daemon = endpoint("127.0.0.1", 8000);
  const auto client = endpoint("127.0.0.1", 51234);
  const std::string text = std::string(kHeader4) +
                           entry(0, daemon, endpoint("0.0.0.0", 0), "0A", 100) +
                           entry(1, endpoint("0.0.0.0", 22), endpoint("0.0.0.0", 0), "0A", 0) +
                           entry(2, daemon, client, "01", 100) +   // the daemon's accepted end
                           entry(3, client, daemon, "01", 1000) +  // the client's end
                           entry(4, endpoint("127.0.0.1", 51235), daemon, "06", 0);
  EXPECT_EQ(find_tcp_socket_owner(text, client, daemon), 1000u);
  EXPECT_EQ(find_tcp_socket_owner(text, daemon, client), 100u);
  // The same ports in other places, or the wrong direction, are other sockets.
  EXPECT_EQ(find_tcp_socket_owner(text, client, endpoint("127.0.0.1", 8001)), std::nullopt);
  EXPECT_EQ(find_tcp_socket_owner(text, endpoint("127.0.0.2", 51234), daemon), std::nullopt);
  // A LISTEN (0A) or TIME_WAIT (06) entry is not a connection's owner.
  EXPECT_EQ(find_tcp_socket_owner(text, daemon, endpoint("0.0.0.0", 0)), std::nullopt);
  EXPECT_EQ(find_tcp_socket_owner(text, endpoint("127.0.0.1", 51235), daemon), std::nullopt);
}

TEST(TcpPeerOwner_test, ReadsTheKernelsByteOrderLiterally) {
  // On a little-endian host 127.0.0.1 prints as 0100007F; proc_hex follows the host, so this
  // literal is checked only where it applies.
  if (proc_hex(ip::make_address("127.0.0.1")) != "0100007F") GTEST_SKIP() << "big-endian host";
  const std::string text = std::string(kHeader4) +
                           "   3: 0100007F:C862 0100007F:1F40 01 00000000:00000000 00:00000000 "
                           "00000000  1000        0 123456 1 0000000000000000 20 4 30 10 -1\n";
  EXPECT_EQ(find_tcp_socket_owner(text, endpoint("127.0.0.1", 0xC862), endpoint("127.0.0.1", 8000)),
            1000u);
  const std::string v6 = std::string(kHeader6) +
                         "   0: 00000000000000000000000001000000:C862 "
                         "0000000000000000FFFF00000100007F:1F40 01 00000000:00000000 "
                         "00:00000000 00000000  1001        0 1 1 0 20 4 30 10 -1\n";
  EXPECT_EQ(find_tcp_socket_owner(v6, endpoint("::1", 0xC862), endpoint("::ffff:127.0.0.1", 8000)),
            1001u);
  // Lowercase digits are read too.
  const std::string lower = std::string(kHeader4) +
                            "   3: 0100007f:c862 0100007f:1f40 01 00000000:00000000 00:00000000 "
                            "00000000  7        0 1 1 0 20 4 30 10 -1\n";
  EXPECT_EQ(
      find_tcp_socket_owner(lower, endpoint("127.0.0.1", 0xC862), endpoint("127.0.0.1", 8000)), 7u);
}

TEST(TcpPeerOwner_test, FindsIpv6AndV4MappedEntries) {
  const auto daemon = endpoint("::1", 8000);
  const auto client = endpoint("::1", 40000);
  const auto mapped_daemon = endpoint("::ffff:127.0.0.1", 8000);
  const auto mapped_client = endpoint("::ffff:127.0.0.1", 40001);
  const std::string text =
      std::string(kHeader6) + entry(0, endpoint("::", 8000), endpoint("::", 0), "0A", 100) +
      entry(1, daemon, client, "01", 100) + entry(2, client, daemon, "01", 1000) +
      entry(3, mapped_daemon, mapped_client, "01", 100) +
      entry(4, mapped_client, mapped_daemon, "01", 2000);
  EXPECT_EQ(find_tcp_socket_owner(text, client, daemon), 1000u);
  EXPECT_EQ(find_tcp_socket_owner(text, mapped_client, mapped_daemon), 2000u);
  // A v4 endpoint is not the mapped entry's: families must agree.
  EXPECT_EQ(find_tcp_socket_owner(text, endpoint("127.0.0.1", 40001), endpoint("127.0.0.1", 8000)),
            std::nullopt);
  // Nor does a v6 endpoint match a v4 line of the same bytes.
  const std::string v4 = std::string(kHeader4) + entry(0, endpoint("127.0.0.1", 40001),
                                                       endpoint("127.0.0.1", 8000), "01", 3000);
  EXPECT_EQ(find_tcp_socket_owner(v4, mapped_client, mapped_daemon), std::nullopt);
}

TEST(TcpPeerOwner_test, SkipsMalformedAndTruncatedLines) {
  const auto daemon = endpoint("127.0.0.1", 8000);
  const auto client = endpoint("127.0.0.1", 0xC862);
  const std::string good = entry(9, client, daemon, "01", 1000);
  const auto a = proc_hex(client.address());
  ASSERT_EQ(good.substr(0, 20), "   9: " + a + ":C862 ");
  const std::string bad[] = {
      "",
      "\n",
      "garbage\n",
      good.substr(0, good.find(" 1000 ") + 4) + "\n",  // cut inside the uid's line
      good.substr(0, 40) + "\n",
      "   9 " + good.substr(6),                                 // slot without its colon
      "   x: " + good.substr(6),                                // slot not a number
      "   9: " + a + ":C8620 " + good.substr(20),               // 5-digit port
      "   9: " + a.substr(1) + ":C862 " + good.substr(20),      // 7-digit address
      "   9: " + a.substr(0, 7) + "G:C862 " + good.substr(20),  // not hex
      "   9: " + a + " C862 " + good.substr(20),                // no colon
      "   9: " + a + ":-862 " + good.substr(20),
      "   9: " + a + ":C862:0 " + good.substr(20),
  };
  for (const auto& line : bad) {
    const std::string text = std::string(kHeader4) + line;
    EXPECT_EQ(find_tcp_socket_owner(text, client, daemon), std::nullopt) << line;
  }
  // The same entry with uids that do not fit, or are signed, or not numbers.
  for (const char* uid :
       {"4294967296", "99999999999999999999999", "-1", "4294967295", "1e3", "0x10", "+5", "12a"}) {
    std::string line = good;
    line.replace(line.find(" 1000 ") + 1, 4, uid);
    EXPECT_EQ(find_tcp_socket_owner(std::string(kHeader4) + line, client, daemon), std::nullopt)
        << uid;
  }
  // The good line still counts among bad ones, and without a final newline; a header alone
  // finds nothing.
  std::string mixed = std::string(kHeader4);
  for (const auto& line : bad)
    mixed += line + "\n";
  mixed += good.substr(0, good.size() - 1);
  EXPECT_EQ(find_tcp_socket_owner(mixed, client, daemon), 1000u);
  EXPECT_EQ(find_tcp_socket_owner(kHeader4, client, daemon), std::nullopt);
  EXPECT_EQ(find_tcp_socket_owner("", client, daemon), std::nullopt);
  // Tabs and CRLF are blanks.
  std::string tabs = good;
  for (auto& c : tabs) {
    if (c == ' ') c = '\t';
  }
  tabs.back() = '\r';
  tabs += '\n';
  EXPECT_EQ(find_tcp_socket_owner(tabs, client, daemon), 1000u);
}

TEST(TcpPeerOwner_test, TwoOwnersForOneConnectionGiveNoAnswer) {
  const auto daemon = endpoint("127.0.0.1", 8000);
  const auto client = endpoint("127.0.0.1", 51234);
  const std::string same = std::string(kHeader4) + entry(1, client, daemon, "01", 1000) +
                           entry(2, client, daemon, "01", 1000);
  EXPECT_EQ(find_tcp_socket_owner(same, client, daemon), 1000u);
  const std::string differ = std::string(kHeader4) + entry(1, client, daemon, "01", 1000) +
                             entry(2, client, daemon, "01", 0);
  EXPECT_EQ(find_tcp_socket_owner(differ, client, daemon), std::nullopt);
}

TEST(TcpPeerOwner_test, ANonLoopbackPeerHasNoUid) {
  EXPECT_EQ(loopback_peer_uid(endpoint("192.0.2.1", 5000), endpoint("192.0.2.2", 8000)),
            std::nullopt);
  EXPECT_EQ(loopback_peer_uid(endpoint("2001:db8::1", 5000), endpoint("2001:db8::2", 8000)),
            std::nullopt);
  EXPECT_EQ(
      loopback_peer_uid(endpoint("::ffff:192.0.2.1", 5000), endpoint("::ffff:192.0.2.2", 8000)),
      std::nullopt);
}

// --- live: a real connection on this host ------------------------------------------------------

ip::tcp::endpoint to_endpoint(const sockaddr_storage& address, socklen_t size) {
  ip::tcp::endpoint out;
  std::memcpy(out.data(), &address, size);
  out.resize(size);
  return out;
}

ip::tcp::endpoint sock_name(int fd) {
  sockaddr_storage address{};
  socklen_t size = sizeof(address);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size), 0);
  return to_endpoint(address, size);
}

ip::tcp::endpoint peer_name(int fd) {
  sockaddr_storage address{};
  socklen_t size = sizeof(address);
  EXPECT_EQ(::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &size), 0);
  return to_endpoint(address, size);
}

struct Connection {
  UniqueFd listener, client, accepted;
};

// Listens on `listen_at` (port 0), connects a socket of `client_family` to `connect_to` at the
// listener's port, and accepts. Empty fds when the host has no such address.
Connection connect_over_loopback(int listen_family, const ip::address& listen_at, int client_family,
                                 const ip::address& connect_to) {
  Connection c;
  c.listener.reset(::socket(listen_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!c.listener) return {};
  if (listen_family == AF_INET6) {
    const int off = 0;  // dual-stack, so a mapped IPv4 client can come in
    ::setsockopt(c.listener.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
  }
  const ip::tcp::endpoint bind_to(listen_at, 0);
  if (::bind(c.listener.get(), bind_to.data(), static_cast<socklen_t>(bind_to.size())) != 0 ||
      ::listen(c.listener.get(), 1) != 0) {
    return {};
  }
  const ip::tcp::endpoint target(connect_to, sock_name(c.listener.get()).port());
  c.client.reset(::socket(client_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!c.client ||
      ::connect(c.client.get(), target.data(), static_cast<socklen_t>(target.size())) != 0) {
    return {};
  }
  c.accepted.reset(::accept4(c.listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!c.accepted) return {};
  return c;
}

TEST(TcpPeerOwner_test, ALiveIpv4PeerIsOurs) {
  const auto c = connect_over_loopback(AF_INET, ip::make_address("127.0.0.1"), AF_INET,
                                       ip::make_address("127.0.0.1"));
  ASSERT_TRUE(c.accepted);
  const auto peer = peer_name(c.accepted.get());
  EXPECT_EQ(peer, sock_name(c.client.get()));
  EXPECT_EQ(loopback_peer_uid(peer, sock_name(c.accepted.get())), ::getuid());
  // The daemon's end, looked up the wrong way round, is not the peer.
  EXPECT_EQ(loopback_peer_uid(sock_name(c.accepted.get()), endpoint("127.0.0.1", 1)), std::nullopt);
}

TEST(TcpPeerOwner_test, ALiveIpv6PeerIsOurs) {
  const auto c =
      connect_over_loopback(AF_INET6, ip::make_address("::1"), AF_INET6, ip::make_address("::1"));
  if (!c.accepted) GTEST_SKIP() << "no IPv6 loopback on this host";
  EXPECT_EQ(loopback_peer_uid(peer_name(c.accepted.get()), sock_name(c.accepted.get())),
            ::getuid());
}

// A v6 listener's IPv4 client: the accepted socket sees ::ffff:127.0.0.1, while the client's own
// AF_INET socket is listed in /proc/net/tcp.
TEST(TcpPeerOwner_test, ALiveV4MappedPeerIsOurs) {
  for (const int client_family : {AF_INET, AF_INET6}) {
    const auto connect_to =
        ip::make_address(client_family == AF_INET ? "127.0.0.1" : "::ffff:127.0.0.1");
    const auto c =
        connect_over_loopback(AF_INET6, ip::make_address("::"), client_family, connect_to);
    if (!c.accepted) GTEST_SKIP() << "no dual-stack IPv6 on this host";
    const auto peer = peer_name(c.accepted.get());
    ASSERT_TRUE(peer.address().is_v6() && peer.address().to_v6().is_v4_mapped()) << peer;
    EXPECT_EQ(loopback_peer_uid(peer, sock_name(c.accepted.get())), ::getuid())
        << "client family " << client_family;
  }
}

// What the daemon does with it: describe_peer fills RequestContext::loopback_peer_uid.
TEST(TcpPeerOwner_test, DescribePeerTellsALoopbackPeersUid) {
  boost::asio::io_context io;
  ip::tcp::acceptor acceptor(io, ip::tcp::endpoint(ip::address_v4::loopback(), 0));
  ip::tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  auto server = acceptor.accept();
  const auto context = describe_peer(server);
  EXPECT_TRUE(context.loopback);
  EXPECT_EQ(context.loopback_peer_uid, ::getuid());
  EXPECT_FALSE(context.peer_uid);  // SO_PEERCRED's field stays a Unix-socket thing
}

// The point of it all: a peer of another uid is told apart from the daemon's own. Needs root, to
// give the client process another uid.
TEST(TcpPeerOwner_test, ALivePeerOfAnotherUidIsThatUid) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to connect as another uid";
  constexpr uid_t kNobody = 65534;
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(listener);
  const ip::tcp::endpoint bind_to(ip::make_address("127.0.0.1"), 0);
  ASSERT_EQ(::bind(listener.get(), bind_to.data(), static_cast<socklen_t>(bind_to.size())), 0);
  ASSERT_EQ(::listen(listener.get(), 1), 0);
  const timeval limit{10, 0};  // accept() gives up if the child never connects
  ::setsockopt(listener.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  const auto target = sock_name(listener.get());
  int done[2];
  ASSERT_EQ(::pipe2(done, O_CLOEXEC), 0);
  UniqueFd done_read(done[0]), done_write(done[1]);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(done[1]);  // else the parent's close would never reach the read below
    // The socket is made after the uid changes, so the kernel records nobody as its owner.
    if (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) ::_exit(2);
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::connect(fd, target.data(), static_cast<socklen_t>(target.size())) != 0) {
      ::_exit(3);
    }
    char byte;
    while (::read(done[0], &byte, 1) < 0 && errno == EINTR) {
    }
    ::_exit(0);  // holds the connection until the parent closes its end of the pipe
  }
  done_read.reset();
  UniqueFd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted);
  EXPECT_EQ(loopback_peer_uid(peer_name(accepted.get()), sock_name(accepted.get())), kNobody);
  done_write.reset();
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace infervisor::supervisor
