#include "supervisor/http_connection.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace infervisor::supervisor {
namespace beast = boost::beast;
namespace http = beast::http;

namespace {
// Read requests in large pieces: with Beast's default of 512 bytes a small request takes three
// reads (and three trips through epoll).
constexpr std::size_t kReadBufferBytes = 64 * 1024;
}  // namespace

void ConnectionRegistry::close_all_when_idle() {
  // Closing may remove members: iterate over a copy.
  const auto members = *members_;
  for (auto* member : members)
    member->close_when_idle();
}

void ConnectionRegistry::start_sweeping() {
  sweep_timer_.expires_after(std::chrono::seconds(1));
  sweep_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    const auto now = std::chrono::steady_clock::now();
    const auto members = *members_;
    for (auto* member : members)
      member->close_if_overdue(now);
    start_sweeping();
  });
}

template <class Protocol>
HttpConnection<Protocol>::HttpConnection(Socket socket, Router& router,
                                         ConnectionRegistry& registry, const HttpLimits& limits,
                                         const ServiceState& state)
    : socket_(std::move(socket)),
      router_(router),
      limits_(limits),
      state_(state),
      membership_(registry.join(this)) {
  buffer_.reserve(kReadBufferBytes);
}

template <class Protocol>
void HttpConnection<Protocol>::read_next() {
  if (close_requested_) return close();
  parser_.emplace();
  parser_->body_limit(limits_.max_body_bytes);
  deadline_ = std::chrono::steady_clock::now() + limits_.idle_timeout;
  http::async_read_header(socket_, buffer_, *parser_,
                          [self = this->shared_from_this()](const boost::system::error_code& ec,
                                                            std::size_t) { self->on_header(ec); });
}

template <class Protocol>
void HttpConnection<Protocol>::on_header(const boost::system::error_code& ec) {
  if (ec || parser_->is_done()) return on_read(ec);
  // curl and other clients send "Expect: 100-continue" before a large body and wait (curl: 1 s)
  // for the interim response. A body over the limit was refused above, before this.
  const auto expect = parser_->get()[http::field::expect];
  if (parser_->get().version() >= 11 && beast::iequals(expect, "100-continue")) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    return boost::asio::async_write(
        socket_, boost::asio::buffer(kContinue.data(), kContinue.size()),
        [self = this->shared_from_this()](const boost::system::error_code& write_ec, std::size_t) {
          if (write_ec) return self->close();
          self->read_body();
        });
  }
  read_body();
}

template <class Protocol>
void HttpConnection<Protocol>::read_body() {
  http::async_read(socket_, buffer_, *parser_,
                   [self = this->shared_from_this()](const boost::system::error_code& ec,
                                                     std::size_t) { self->on_read(ec); });
}

template <class Protocol>
void HttpConnection<Protocol>::on_read(const boost::system::error_code& ec) {
  if (ec == http::error::end_of_stream || ec == boost::asio::error::operation_aborted ||
      ec == boost::asio::error::connection_reset || ec == boost::asio::error::eof) {
    return close();
  }
  busy_ = true;
  if (ec) {
    keep_alive_ = false;
    unread_request_ = true;
    if (ec == http::error::body_limit) {
      return send(
          error_reply(413, fmt::format("the request body exceeds max_request_size ({} bytes)",
                                       limits_.max_body_bytes)));
    }
    return send(error_reply(400, fmt::format("malformed HTTP request: {}", ec.message())));
  }
  deadline_ = std::chrono::steady_clock::time_point::max();  // a job takes as long as the model
  HttpRequest request = parser_->release();
  keep_alive_ = request.keep_alive();
  job_ = router_.handle(
      std::move(request), context_,
      [self = this->shared_from_this()](HttpReply reply) { self->send(std::move(reply)); });
}

template <class Protocol>
void HttpConnection<Protocol>::send(HttpReply reply) {
  const bool keep_alive = keep_alive_ && !close_requested_ && !state_.draining();
  response_ = {};
  response_.result(reply.status);
  response_.version(11);
  response_.set(http::field::server, "infervisor");
  response_.set(http::field::content_type, reply.content_type);
  if (reply.inference_header_length) {
    response_.set("Inference-Header-Content-Length",
                  std::to_string(*reply.inference_header_length));
  }
  for (const auto& [name, value] : reply.headers)
    response_.set(name, value);
  response_.keep_alive(keep_alive);
  response_.body() = std::move(reply.body);
  response_.prepare_payload();
  deadline_ = std::chrono::steady_clock::now() + limits_.io_timeout;
  http::async_write(
      socket_, response_,
      [self = this->shared_from_this(), keep_alive](
          const boost::system::error_code& ec, std::size_t) { self->on_write(ec, keep_alive); });
}

template <class Protocol>
void HttpConnection<Protocol>::on_write(const boost::system::error_code& ec, bool keep_alive) {
  busy_ = false;
  response_ = {};
  if (!ec && unread_request_) return linger_then_close();
  if (ec || !keep_alive) return close();
  read_next();
}

// A client still sending a body we refused would get a reset instead of our answer if we closed
// now: stop sending, then read and drop what it still sends, for a bounded time.
template <class Protocol>
void HttpConnection<Protocol>::linger_then_close() {
  boost::system::error_code ignored;
  socket_.shutdown(Protocol::socket::shutdown_send, ignored);
  deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  discard_rest();
}

template <class Protocol>
void HttpConnection<Protocol>::discard_rest() {
  socket_.async_read_some(
      boost::asio::buffer(discard_),
      [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t) {
        if (ec) return self->close();
        self->discard_rest();
      });
}

template <class Protocol>
void HttpConnection<Protocol>::close_when_idle() {
  close_requested_ = true;
  if (!busy_) close();
}

template <class Protocol>
void HttpConnection<Protocol>::close_if_overdue(std::chrono::steady_clock::time_point now) {
  if (now > deadline_) close();
}

template <class Protocol>
void HttpConnection<Protocol>::close() {
  deadline_ = std::chrono::steady_clock::time_point::max();
  boost::system::error_code ignored;
  socket_.shutdown(Protocol::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

template class HttpConnection<boost::asio::local::stream_protocol>;
template class HttpConnection<boost::asio::ip::tcp>;

}  // namespace infervisor::supervisor
