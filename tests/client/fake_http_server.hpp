// A tiny HTTP/1.1 server on a Unix socket for client tests: a thread runs an Asio acceptor that
// answers each request with the next canned response, in order, and records what it received.
// Canned responses are raw bytes, so a test can send anything, well-formed or not.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "tests/common/temp_dir.hpp"

namespace infervisor::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

// "HTTP/1.1 <status> <reason>", the headers, Content-Length, and the body.
std::string http_response(unsigned status, std::string_view body,
                          const Headers& headers = {{"Content-Type", "application/json"}});

class FakeHttpServer {
 public:
  enum class After {
    kKeepOpen,  // keep the connection for the next request
    kClose,     // close the connection after replying
    kNoReply,   // read the request, never answer, hold the connection until the client drops it
  };

  struct Received {
    std::string method;
    std::string target;
    Headers headers;
    std::string body;
    std::optional<std::string> header(std::string_view name) const;
  };

  FakeHttpServer();
  ~FakeHttpServer();
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  const std::filesystem::path& socket_path() const noexcept { return socket_path_; }

  // Queues the raw bytes to answer the next request with. With nothing queued the server answers
  // 500, so a test that sends more requests than it expected fails loudly.
  void reply(std::string raw, After after = After::kKeepOpen);
  // Queues a reply computed from the request it answers, on the server's thread, before the
  // client can see anything (what a server does with shared memory before it answers).
  void reply(std::function<std::string(const Received&)> respond, After after = After::kKeepOpen);

  std::vector<Received> received() const;
  int connections() const noexcept { return connections_; }
  // Connections it has closed after replying (After::kClose).
  int closed() const noexcept { return closed_; }

 private:
  struct Canned {
    std::function<std::string(const Received&)> respond;
    After after;
  };

  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::local::stream_protocol::socket socket);
  Canned next();

  TempDir dir_;
  std::filesystem::path socket_path_;
  boost::asio::io_context io_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  mutable std::mutex mutex_;
  std::deque<Canned> canned_;
  std::vector<Received> received_;
  std::atomic<int> connections_{0};
  std::atomic<int> closed_{0};
  std::thread thread_;
};

}  // namespace infervisor::testing
