// Who may use the daemon and how many may at once (issue 8): the socket file's mode and group,
// allow_uids / allow_groups judged by the peer's credentials, and max_connections. As root the
// test also plays other users (a forked child takes their ids); otherwise it can only be itself.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "raw_socket.hpp"
#include "running_daemon.hpp"

namespace infervisor::testing {
namespace {

using namespace std::chrono_literals;

const std::string kMlp = "  - name: mlp\n    path: " + (models_dir() / "mlp.pt").string() +
                         "\n    inputs: [{name: x, dtype: FP32, shape: [-1, 256]}]\n"
                         "    outputs: [{name: y, dtype: FP32, shape: [-1, 256]}]\n";
const std::string kLive = "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n";

bool root() {
  return ::geteuid() == 0;
}

// The status of GET /v2/health/live for a client with these ids; 0 if it cannot even connect
// (the socket file's mode and group keep it out). As root a forked child takes the ids, making
// only system calls between fork and _exit.
unsigned status_as(const std::filesystem::path& socket, uid_t uid, gid_t gid,
                   std::vector<gid_t> groups) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket.c_str(), sizeof(address.sun_path) - 1);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return 0;
  const pid_t child = ::fork();
  if (child == 0) {
    if (::setgroups(groups.size(), groups.data()) != 0 || ::setresgid(gid, gid, gid) != 0 ||
        ::setresuid(uid, uid, uid) != 0) {
      ::_exit(2);
    }
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0)
      ::_exit(3);
    if (::write(fd, kLive.data(), kLive.size()) != static_cast<ssize_t>(kLive.size())) ::_exit(4);
    char status_line[12];
    std::size_t got = 0;
    while (got < sizeof(status_line)) {
      const auto n = ::read(fd, status_line + got, sizeof(status_line) - got);
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    if (::write(out[1], status_line, got) != static_cast<ssize_t>(got)) ::_exit(5);
    ::_exit(0);
  }
  ::close(out[1]);
  std::string line(12, '\0');
  std::size_t got = 0;
  while (got < line.size()) {
    const auto n = ::read(out[0], line.data() + got, line.size() - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(out[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (got < 12 || line.rfind("HTTP/1.1 ", 0) != 0) return 0;
  return static_cast<unsigned>(std::stoul(line.substr(9, 3)));
}

unsigned status_as_myself(const std::filesystem::path& socket) {
  const auto fd = connect_unix(socket);
  if (!fd || !send_all(fd.get(), kLive)) return 0;
  const auto reply = ResponseReader(fd.get()).next();
  return reply ? reply->status : 0;
}

struct stat stat_of(const std::filesystem::path& path) {
  struct stat info {};
  EXPECT_EQ(::lstat(path.c_str(), &info), 0) << path;
  return info;
}

// The daemon is serving once its log says so (wait_ready asks over the socket, which the test
// itself may not be allowed to use).
void start_serving(RunningDaemon& daemon) {
  daemon.start();
  ASSERT_TRUE(wait_for_log(daemon, "; serving", 60s)) << daemon.log();
}

TEST(Access_test, TheSocketFileHasTheConfiguredModeAndGroupAndAllowUidsDecides) {
  const gid_t group = root() ? 65534 : ::getegid();
  const std::string group_name = root() ? "nogroup" : std::to_string(group);
  const uid_t someone_else = ::geteuid() == 12345 ? 12346 : 12345;
  RunningDaemon daemon(kMlp, fmt::format("socket_group: {}\nsocket_mode: \"0660\"\n"
                                         "allow_uids: [{}]\n",
                                         group_name, someone_else));
  start_serving(daemon);
  const auto info = stat_of(daemon.socket());
  EXPECT_TRUE(S_ISSOCK(info.st_mode));
  EXPECT_EQ(info.st_mode & 07777, 0660u);
  EXPECT_EQ(info.st_gid, group);
  if (!root()) {
    EXPECT_EQ(status_as_myself(daemon.socket()), 403u);
    EXPECT_NE(daemon.log().find(fmt::format("refused a connection from uid {}", ::geteuid())),
              std::string::npos)
        << daemon.log();
  } else {
    EXPECT_EQ(status_as_myself(daemon.socket()), 200u);  // root is always allowed
    // In the socket's group, so the file lets it connect; not in allow_uids: 403.
    EXPECT_EQ(status_as(daemon.socket(), 65534, 65534, {}), 403u);
    EXPECT_NE(daemon.log().find("refused a connection from uid 65534 gid 65534 pid "),
              std::string::npos)
        << daemon.log();
    // Neither owner nor in the group: the file's mode keeps it out before the daemon sees it.
    EXPECT_EQ(status_as(daemon.socket(), 65533, 65533, {}), 0u);
  }
  EXPECT_EQ(daemon.stop().exit_code(), 0) << daemon.log();
}

TEST(Access_test, AListedUidIsServed) {
  const uid_t allowed = root() ? 65534 : ::geteuid();
  RunningDaemon daemon(kMlp, fmt::format("socket_mode: \"0666\"\nallow_uids: [{}]\n", allowed));
  start_serving(daemon);
  if (root()) {
    EXPECT_EQ(status_as(daemon.socket(), 65534, 65534, {}), 200u);
    EXPECT_EQ(status_as(daemon.socket(), 65533, 65533, {}), 403u);
  } else {
    EXPECT_EQ(status_as_myself(daemon.socket()), 200u);
  }
  EXPECT_EQ(daemon.stop().exit_code(), 0) << daemon.log();
}

TEST(Access_test, APeerInAnAllowedGroupIsServedPrimaryOrSupplementary) {
  const uid_t someone_else = ::geteuid() == 12345 ? 12346 : 12345;
  const std::string groups = root() ? "[\"4444\", nogroup]" : fmt::format("[{}]", ::getegid());
  RunningDaemon daemon(kMlp, fmt::format("socket_mode: \"0666\"\nallow_uids: [{}]\n"
                                         "allow_groups: {}\n",
                                         someone_else, groups));
  start_serving(daemon);
  if (root()) {
    EXPECT_EQ(status_as(daemon.socket(), 5000, 5000, {4444}), 200u);  // supplementary
    EXPECT_EQ(status_as(daemon.socket(), 5000, 65534, {}), 200u);     // primary, by name
    EXPECT_EQ(status_as(daemon.socket(), 5000, 5000, {4445}), 403u);
  } else {
    EXPECT_EQ(status_as_myself(daemon.socket()), 200u);
  }
  EXPECT_EQ(daemon.stop().exit_code(), 0) << daemon.log();
}

TEST(Access_test, AnUnknownGroupStopsTheStartNamingTheKey) {
  for (const std::string setting :
       {"socket_group: no-such-group-iv\n", "allow_groups: [root, no-such-group-iv]\n"}) {
    RunningDaemon daemon(kMlp, setting);
    daemon.start();
    const auto status = daemon.wait_exit(60s);
    ASSERT_TRUE(status) << daemon.log();
    EXPECT_EQ(status->exit_code(), 1) << daemon.log();
    const std::string key = setting.rfind("socket", 0) == 0 ? "socket_group" : "allow_groups[1]";
    EXPECT_NE(daemon.log().find(key + ": no group named 'no-such-group-iv'"), std::string::npos)
        << daemon.log();
    EXPECT_FALSE(std::filesystem::exists(daemon.socket()));
  }
}

// Unix and TCP connections count together. At the limit the connection idle longest makes room;
// when none is idle (each is in the middle of a request) the new one gets 503 and is closed.
TEST(Access_test, MaxConnectionsClosesTheLongestIdleElseRefusesWith503) {
  const auto port = free_loopback_port();
  RunningDaemon daemon(kMlp, fmt::format("max_connections: 4\ntcp: 127.0.0.1:{}\n", port));
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();  // its probes come and go: none stays open

  std::vector<UniqueFd> connections;
  std::vector<ResponseReader> readers;
  for (int i = 0; i < 4; ++i) {
    connections.push_back(i % 2 == 0 ? connect_unix(daemon.socket()) : connect_tcp(port));
    ASSERT_TRUE(connections.back());
    readers.emplace_back(connections.back().get());
    ASSERT_TRUE(send_all(connections.back().get(), kLive));
    const auto reply = readers.back().next();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 200u);
  }
  // A fifth: the first (idle longest) is closed to make room, the fifth is served.
  connections.push_back(connect_unix(daemon.socket()));
  readers.emplace_back(connections.back().get());
  ASSERT_TRUE(send_all(connections.back().get(), kLive));
  const auto fifth = readers.back().next();
  ASSERT_TRUE(fifth);
  EXPECT_EQ(fifth->status, 200u);
  EXPECT_TRUE(readers[0].closes());

  // Now every open connection is in the middle of a request: none is idle.
  for (int i = 1; i <= 4; ++i)
    ASSERT_TRUE(send_all(connections[i].get(), "GET /v2/health/live HTTP/1.1\r\n"));
  const auto sixth = connect_tcp(port);
  ASSERT_TRUE(sixth);
  ResponseReader sixth_reader(sixth.get());
  const auto refused = sixth_reader.next();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503u);
  EXPECT_EQ(refused->header("connection"), "close");
  EXPECT_NE(refused->body.find("max_connections (4)"), std::string::npos) << refused->body;
  EXPECT_TRUE(sixth_reader.closes());
  for (int i = 1; i <= 4; ++i) {
    ASSERT_TRUE(send_all(connections[i].get(), "Host: x\r\n\r\n"));
    const auto reply = readers[i].next();
    ASSERT_TRUE(reply) << i;
    EXPECT_EQ(reply->status, 200u) << i;
  }
  EXPECT_EQ(daemon.stop().exit_code(), 0) << daemon.log();
}

}  // namespace
}  // namespace infervisor::testing
