// One client connection: read a request, hand it to the router, write the reply, repeat while the
// client keeps the connection alive. One request at a time per connection: bytes of a next
// (pipelined) request wait, unread or in the read buffer, until the reply is written, so a reply
// never overtakes another. Works for Unix-domain and TCP sockets alike.
//
// Memory: a connection waiting for its next request holds no read buffer and no parser. It waits
// for readability without reading (a zero-byte wait) and takes its 64 KiB read buffer when the
// request's first byte is there; thousands of idle keep-alive connections cost about the size of
// this object each.
//
// A client that goes away while its job runs: the connection reads nothing then, but waits for
// the socket's hang-up or error. A peer that closed both directions (exit, close(),
// shutdown(SHUT_RDWR), a reset) is gone: its job is abandoned and the connection closes. One
// that only half-closed (shutdown(SHUT_WR) after its request) still gets its answer, and bytes
// it pipelined meanwhile stay in the socket until then. On a Unix socket the two are told apart
// exactly (socket_probe.hpp). On TCP a FIN is taken as a half-close, since it may be one: the job
// runs on, and the connection closes once the answer's write fails (the closed peer resets it)
// or the next read finds the end of the stream.
//
// The drain (SIGTERM): a request whose first byte reached the daemon before it is served as
// usual; one that begins later is refused by the router (503) and every reply after the drain
// says Connection: close.
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "supervisor/connection_registry.hpp"
#include "supervisor/http_limits.hpp"
#include "supervisor/router.hpp"

namespace infervisor::supervisor {

template <class Protocol>
class HttpConnection final : public std::enable_shared_from_this<HttpConnection<Protocol>>,
                             public ConnectionRegistry::Member {
 public:
  using Socket = typename Protocol::socket;
  using Clock = std::chrono::steady_clock;

  // `context`: who is at the other end (peer_credentials.hpp).
  HttpConnection(Socket socket, Router& router, ConnectionRegistry& registry,
                 const HttpLimits& limits, const ServiceState& state, RequestContext context);

  // Serves requests; with a `refusal` (a peer allow_uids/allow_groups do not admit), answers the
  // first request with 403 and that text, then closes.
  void start(std::optional<std::string> refusal = std::nullopt);
  // Answers `reply` before any request is read, then closes (beyond max_connections).
  void refuse_at_once(HttpReply reply);

  // ConnectionRegistry::Member
  void close_when_idle() override;
  void close_if_overdue(Clock::time_point now) override;
  std::optional<Clock::time_point> idle_since() const override;
  bool close_if_idle() override;
  void note_drain() override;

  // Bytes of read buffer held now (0 while idle); for tests.
  std::size_t buffer_capacity() const noexcept;

 private:
  enum class Phase {
    kIdle,       // waiting for a request's first byte: no buffer, no parser; watching the socket
    kReading,    // reading a request's header and body
    kHandling,   // the router has the request and its reply is not written yet
    kLingering,  // answered a request it did not read; dropping what the client still sends
    kClosed,
  };

  void wait_for_request();
  void read_request();
  void on_header(const boost::system::error_code& ec);
  void read_body();
  void read_body_directly(std::uint64_t length);
  void on_read(const boost::system::error_code& ec);
  void hand_over(HttpRequest request);
  void refuse(HttpReply reply);
  bool take_before_drain();
  void send(HttpReply reply);
  void on_write(const boost::system::error_code& ec, bool keep_alive);
  void watch(typename Socket::wait_type what);
  void stop_watching();
  void on_watch(const boost::system::error_code& ec, unsigned generation);
  void peer_hung_up();
  void close();
  void linger_then_close();
  void discard_rest();
  void release_buffers();

  Socket socket_;
  Router& router_;
  const HttpLimits& limits_;
  const ServiceState& state_;
  RequestContext context_;
  std::optional<std::string> refusal_;
  Phase phase_ = Phase::kIdle;
  boost::beast::flat_buffer buffer_;  // no storage while idle
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::optional<HttpRequest> direct_request_;  // its body is being read (read_body_directly)
  boost::beast::http::response<boost::beast::http::string_body> response_;
  // When the read or write under way must be done; max(): none (a job is running).
  Clock::time_point deadline_ = Clock::time_point::max();
  Clock::time_point idle_since_ = Clock::now();
  std::weak_ptr<Job> job_;  // the job of the request being answered, if it queued one
  // Requests that began before the drain and are not handed to the router yet (0 or 1; the count
  // of one more when a pipelined request had arrived behind the one being handled).
  unsigned before_drain_ = 0;
  unsigned watch_generation_ = 0;  // a watch completion of an older generation is stale
  bool watching_ = false;          // an async_wait is pending
  bool keep_alive_ = false;
  bool replying_ = false;      // the reply's write is under way
  bool head_request_ = false;  // the request was HEAD: the reply goes without its body
  bool json_limit_ = false;    // the body limit is max_json_request_size's, not max_request_size's
  bool close_requested_ = false;
  bool unread_request_ = false;  // refused before its body was read (413, 431, malformed)
  std::unique_ptr<std::array<char, 4096>> discard_;           // only while lingering
  std::optional<ConnectionRegistry::Membership> membership_;  // while open
};

extern template class HttpConnection<boost::asio::local::stream_protocol>;
extern template class HttpConnection<boost::asio::ip::tcp>;

}  // namespace infervisor::supervisor
