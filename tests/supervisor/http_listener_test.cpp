// HttpListener on a Unix socket in a temporary folder, with the router answering at once (no
// model). The event loop runs only when the test lets it, so connections can be left waiting in
// the listen backlog on purpose.
#include "supervisor/http_listener.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "common/unique_fd.hpp"
#include "supervisor/unix_socket_file.hpp"

namespace infervisor::supervisor {
namespace {

using Local = boost::asio::local::stream_protocol;
using namespace std::chrono_literals;

class HttpListener_test : public ::testing::Test, public ServiceState {
 protected:
  HttpListener_test()
      : folder_(std::filesystem::temp_directory_path() /
                ("ivlisten-" + std::to_string(::getpid()))),
        registry_(io_),
        router_(*this) {}
  ~HttpListener_test() override { std::filesystem::remove_all(folder_); }

  bool draining() const override { return draining_; }
  bool all_models_ready() const override { return true; }
  ModelPool* find_pool(std::string_view) override { return nullptr; }
  std::vector<ModelState> model_states() const override { return {}; }
  std::uint64_t next_job_id() override { return 1; }

  UniqueFd connect() {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, socket_file_.path().c_str(), sizeof(address.sun_path) - 1);
    EXPECT_EQ(::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0);
    return fd;
  }

  // Runs the loop until `fd` has a whole response (or gives up); the bytes that came.
  std::string response_on(int fd) {
    std::string got;
    for (int i = 0; i < 5000 && got.find("\r\n\r\n") == std::string::npos; ++i) {
      io_.run_for(1ms);
      pollfd entry{fd, POLLIN, 0};
      if (::poll(&entry, 1, 0) != 1) continue;
      char chunk[4096];
      const auto n = ::recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) break;
      got.append(chunk, static_cast<std::size_t>(n));
    }
    return got;
  }

  boost::asio::io_context io_;
  std::filesystem::path folder_;
  UnixSocketFile socket_file_{io_, folder_ / "l.sock"};
  HttpLimits limits_;
  ConnectionRegistry registry_;
  Router router_;
  bool draining_ = false;
};

const std::string kLive = "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n";

// Connections made before the drain that the loop had not accepted yet are accepted and served
// (they used to be reset by closing the acceptor); their requests count as begun before it.
TEST_F(HttpListener_test, AtTheDrainTheListenBacklogIsAcceptedAndServed) {
  HttpListener<Local> sut(io_, socket_file_.take_acceptor(), router_, registry_, limits_, *this);
  sut.start();  // the accept is queued; the loop has not run
  auto first = connect();
  auto second = connect();
  ASSERT_EQ(::send(first.get(), kLive.data(), kLive.size(), 0), ssize_t(kLive.size()));
  ASSERT_EQ(::send(second.get(), kLive.data(), kLive.size(), 0), ssize_t(kLive.size()));
  EXPECT_EQ(registry_.size(), 0u);

  draining_ = true;
  socket_file_.remove();
  sut.accept_backlog_then_stop();
  registry_.begin_drain();
  EXPECT_EQ(registry_.size(), 2u);
  EXPECT_EQ(registry_.reading_before_drain(), 2u);
  for (const int fd : {first.get(), second.get()}) {
    const auto response = response_on(fd);
    EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << response;
    EXPECT_NE(response.find("Connection: close"), std::string::npos) << response;
  }
  EXPECT_EQ(registry_.reading_before_drain(), 0u);
}

TEST_F(HttpListener_test, BeyondMaxConnectionsTheIdleLongestMakesRoomElse503) {
  limits_.max_connections = 1;
  HttpListener<Local> sut(io_, socket_file_.take_acceptor(), router_, registry_, limits_, *this);
  sut.start();
  auto idle = connect();
  ASSERT_EQ(::send(idle.get(), kLive.data(), kLive.size(), 0), ssize_t(kLive.size()));
  EXPECT_EQ(response_on(idle.get()).rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  auto busy = connect();  // the idle one makes room
  const std::string partial = "GET /v2/health/live HTTP/1.1\r\n";
  ASSERT_EQ(::send(busy.get(), partial.data(), partial.size(), 0), ssize_t(partial.size()));
  bool idle_closed = false;
  for (int i = 0; i < 5000 && !idle_closed; ++i) {
    io_.run_for(1ms);
    char byte;
    idle_closed = ::recv(idle.get(), &byte, 1, MSG_DONTWAIT) == 0;
  }
  EXPECT_TRUE(idle_closed);
  auto refused = connect();  // none idle now
  const auto response = response_on(refused.get());
  EXPECT_EQ(response.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u) << response;
  EXPECT_NE(response.find("Connection: close"), std::string::npos) << response;
}

}  // namespace
}  // namespace infervisor::supervisor
