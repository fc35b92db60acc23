#include "supervisor/http_connection.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "supervisor/http_request_checks.hpp"
#include "supervisor/socket_probe.hpp"

namespace infervisor::supervisor {
namespace beast = boost::beast;
namespace http = beast::http;

namespace {
// Read requests in large pieces: with Beast's default of 512 bytes a small request takes three
// reads (and three trips through epoll).
constexpr std::size_t kReadBufferBytes = 64 * 1024;
// How long a refused client may go on sending what we will not read.
constexpr std::chrono::seconds kLinger{5};
}  // namespace

template <class Protocol>
HttpConnection<Protocol>::HttpConnection(Socket socket, Router& router,
                                         ConnectionRegistry& registry, const HttpLimits& limits,
                                         const ServiceState& state, RequestContext context)
    : socket_(std::move(socket)),
      router_(router),
      limits_(limits),
      state_(state),
      context_(std::move(context)) {
  membership_.emplace(registry, this);
}

template <class Protocol>
void HttpConnection<Protocol>::start(std::optional<std::string> refusal) {
  refusal_ = std::move(refusal);
  wait_for_request();
}

template <class Protocol>
void HttpConnection<Protocol>::refuse_at_once(HttpReply reply) {
  phase_ = Phase::kHandling;
  keep_alive_ = false;
  unread_request_ = true;
  send(std::move(reply));
}

template <class Protocol>
void HttpConnection<Protocol>::wait_for_request() {
  if (close_requested_) return close();
  if (buffer_.size() > 0) return read_request();  // pipelined behind the last one
  phase_ = Phase::kIdle;
  idle_since_ = Clock::now();
  deadline_ = idle_since_ + limits_.idle_timeout;
  release_buffers();
  // Bytes that arrived while the last request was handled complete this wait at once.
  watch(Socket::wait_read);
}

template <class Protocol>
void HttpConnection<Protocol>::read_request() {
  // With a wait pending, asio queues a read behind it instead of trying it at once.
  stop_watching();
  phase_ = Phase::kReading;
  deadline_ = Clock::now() + limits_.idle_timeout;
  buffer_.reserve(kReadBufferBytes);
  parser_.emplace();
  parser_->header_limit(limits_.max_header_bytes);
  parser_->body_limit(limits_.max_body_bytes);
  http::async_read_header(socket_, buffer_, *parser_,
                          [self = this->shared_from_this()](const boost::system::error_code& ec,
                                                            std::size_t) { self->on_header(ec); });
}

template <class Protocol>
void HttpConnection<Protocol>::on_header(const boost::system::error_code& ec) {
  if (ec || phase_ != Phase::kReading) return on_read(ec);
  if (refusal_) return refuse(error_reply(403, *refusal_));
  if (auto refused = refuse_request_head(parser_->get(), limits_)) {
    return refuse(std::move(*refused));
  }
  // A body without Inference-Header-Content-Length is JSON, to be parsed on the event loop: its
  // tighter limit applies before any of it is read, or, for a chunked one, as its chunks add up.
  const auto& head = parser_->get();
  if (head.find("Inference-Header-Content-Length") == head.end() &&
      limits_.max_json_body_bytes < limits_.max_body_bytes) {
    const auto length = parser_->content_length();
    if (length && *length > limits_.max_json_body_bytes) {
      return refuse(error_reply(
          413, fmt::format("the JSON request body ({} bytes) exceeds max_json_request_size ({} "
                           "bytes); larger tensors can go as binary data "
                           "(Inference-Header-Content-Length)",
                           *length, limits_.max_json_body_bytes)));
    }
    parser_->body_limit(limits_.max_json_body_bytes);
    json_limit_ = true;
  } else {
    json_limit_ = false;
  }
  if (parser_->is_done()) return on_read({});
  // curl and other clients send "Expect: 100-continue" before a large body and wait (curl: 1 s)
  // for the interim response. A body over the limit was refused above, before this.
  if (head.version() >= 11 && beast::iequals(head[http::field::expect], "100-continue")) {
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
  if (phase_ != Phase::kReading) return;  // closed while the 100 Continue went out
  if (const auto length = parser_->content_length(); length && *length > kReadBufferBytes)
    return read_body_directly(*length);
  http::async_read(socket_, buffer_, *parser_,
                   [self = this->shared_from_this()](const boost::system::error_code& ec,
                                                     std::size_t) { self->on_read(ec); });
}

// A large body of known length goes from the socket straight into the request's string: Beast's
// string body would take every byte through buffer_ first and copy it on (zero-filling the
// string as it grows), two more passes over bytes the job copies once more into a ring.
template <class Protocol>
void HttpConnection<Protocol>::read_body_directly(std::uint64_t length) {
  const std::uint64_t limit = json_limit_ ? limits_.max_json_body_bytes : limits_.max_body_bytes;
  if (length > limit) return on_read(make_error_code(http::error::body_limit));
  direct_request_.emplace(parser_->release());  // the head; Beast has read none of the body
  parser_.reset();
  std::string& body = direct_request_->body();
  body.assign(static_cast<std::size_t>(length), '\0');
  // Bytes that came with the header are the body's first ones.
  const std::size_t buffered = std::min<std::size_t>(buffer_.size(), body.size());
  boost::asio::buffer_copy(boost::asio::buffer(body.data(), buffered), buffer_.data());
  buffer_.consume(buffered);
  boost::asio::async_read(
      socket_, boost::asio::buffer(body.data() + buffered, body.size() - buffered),
      [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t) {
        if (ec || self->phase_ != Phase::kReading) {
          self->direct_request_.reset();
          return self->close();  // the client went away (or the deadline closed us) mid-body
        }
        HttpRequest request = std::move(*self->direct_request_);
        self->direct_request_.reset();
        self->hand_over(std::move(request));
      });
}

template <class Protocol>
void HttpConnection<Protocol>::on_read(const boost::system::error_code& ec) {
  if (ec == http::error::end_of_stream || ec == boost::asio::error::operation_aborted ||
      ec == boost::asio::error::connection_reset || ec == boost::asio::error::eof ||
      phase_ != Phase::kReading) {
    return close();
  }
  if (ec == http::error::header_limit) {
    return refuse(error_reply(431, fmt::format("the request line and header fields exceed {} bytes",
                                               limits_.max_header_bytes)));
  }
  if (ec == http::error::body_limit) {
    const auto& head = parser_->get();
    const bool json = head.find("Inference-Header-Content-Length") == head.end() &&
                      limits_.max_json_body_bytes < limits_.max_body_bytes;
    return refuse(error_reply(
        413, json ? fmt::format("the JSON request body exceeds max_json_request_size ({} bytes)",
                                limits_.max_json_body_bytes)
                  : fmt::format("the request body exceeds max_request_size ({} bytes)",
                                limits_.max_body_bytes)));
  }
  if (ec) return refuse(error_reply(400, fmt::format("malformed HTTP request: {}", ec.message())));
  HttpRequest request = parser_->release();
  parser_.reset();
  hand_over(std::move(request));
}

template <class Protocol>
void HttpConnection<Protocol>::hand_over(HttpRequest request) {
  phase_ = Phase::kHandling;
  deadline_ = Clock::time_point::max();  // a job takes as long as the model
  keep_alive_ = request.keep_alive();
  // HEAD is GET without the body (RFC 9110 9.3.2): the router answers it as GET, send() drops
  // the body.
  head_request_ = request.method() == http::verb::head;
  if (head_request_) request.method(http::verb::get);
  context_.before_drain = take_before_drain();
  if (buffer_.size() == 0) release_buffers();  // no pipelined bytes: nothing to keep meanwhile
  replying_ = false;
  job_ = router_.handle(
      std::move(request), context_,
      [self = this->shared_from_this()](HttpReply reply) { self->send(std::move(reply)); });
  // The answer comes later: meanwhile, notice a client that goes away.
  if (phase_ == Phase::kHandling && !replying_) watch(Socket::wait_error);
}

template <class Protocol>
void HttpConnection<Protocol>::refuse(HttpReply reply) {
  phase_ = Phase::kHandling;
  parser_.reset();
  keep_alive_ = false;
  unread_request_ = true;
  take_before_drain();  // answered: the drain need not wait for it
  send(std::move(reply));
}

// Whether the request being handed over began before the drain (always, before there is one).
template <class Protocol>
bool HttpConnection<Protocol>::take_before_drain() {
  if (!state_.draining()) return true;
  if (before_drain_ == 0) return false;
  --before_drain_;
  if (membership_) membership_->set_reading_before_drain(before_drain_ > 0);
  return true;
}

template <class Protocol>
void HttpConnection<Protocol>::send(HttpReply reply) {
  if (phase_ == Phase::kClosed) return;  // the client went away: nobody reads this
  replying_ = true;
  // After the drain began, only a request that had already begun to arrive keeps it open.
  const bool keep_alive =
      keep_alive_ && !close_requested_ && (!state_.draining() || before_drain_ > 0);
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
  if (head_request_) {
    // Content-Length still says what GET would have sent (RFC 9110 8.6).
    const auto length = response_.body().size();
    response_.body().clear();
    response_.content_length(length);
  }
  deadline_ = Clock::now() + limits_.io_timeout;
  http::async_write(
      socket_, response_,
      [self = this->shared_from_this(), keep_alive](
          const boost::system::error_code& ec, std::size_t) { self->on_write(ec, keep_alive); });
}

template <class Protocol>
void HttpConnection<Protocol>::on_write(const boost::system::error_code& ec, bool keep_alive) {
  replying_ = false;
  head_request_ = false;
  response_ = {};
  job_.reset();
  if (phase_ == Phase::kClosed) return;
  if (ec) return close();
  if (unread_request_) return linger_then_close();
  if (!keep_alive) return close();
  wait_for_request();
}

// A zero-byte wait, reading nothing. Asio re-arms the descriptor in epoll for it, so what is
// there already completes it at once: for wait_read bytes or an end of stream, for wait_error a
// hang-up or an error (epoll always reports those), but not bytes or a half-close, which leave
// the socket readable and would complete a wait_read again and again.
template <class Protocol>
void HttpConnection<Protocol>::watch(typename Socket::wait_type what) {
  stop_watching();
  watching_ = true;
  socket_.async_wait(what,
                     [self = this->shared_from_this(), generation = watch_generation_](
                         const boost::system::error_code& ec) { self->on_watch(ec, generation); });
}

template <class Protocol>
void HttpConnection<Protocol>::stop_watching() {
  if (!watching_) return;
  watching_ = false;
  ++watch_generation_;
  boost::system::error_code ignored;
  socket_.cancel(ignored);  // the wait is the only operation pending
}

template <class Protocol>
void HttpConnection<Protocol>::on_watch(const boost::system::error_code& ec, unsigned generation) {
  if (generation != watch_generation_) return;  // cancelled, or superseded before it ran
  watching_ = false;
  if (ec) return;
  if (phase_ == Phase::kIdle) return read_request();
  if (phase_ == Phase::kHandling) return peer_hung_up();
}

// While the router has the request, the wait_error completed: a peer that is gone gets its job
// abandoned. (Anything else that completes it, TCP urgent data, is not watched for again: the
// reply's write finds a peer that went meanwhile.)
template <class Protocol>
void HttpConnection<Protocol>::peer_hung_up() {
  if (!probe_peer(socket_.native_handle()).gone) return;
  if (const auto job = job_.lock()) {
    spdlog::debug("model '{}' job {}: its client closed the connection; the job is abandoned",
                  job->model().name, job->id());
    job->abandon();
  }
  close();
}

template <class Protocol>
void HttpConnection<Protocol>::close_when_idle() {
  close_requested_ = true;
  if (phase_ != Phase::kHandling) close();
}

template <class Protocol>
void HttpConnection<Protocol>::close_if_overdue(Clock::time_point now) {
  if (now > deadline_) close();
}

template <class Protocol>
std::optional<std::chrono::steady_clock::time_point> HttpConnection<Protocol>::idle_since() const {
  if (phase_ != Phase::kIdle) return std::nullopt;
  return idle_since_;
}

template <class Protocol>
bool HttpConnection<Protocol>::close_if_idle() {
  if (phase_ != Phase::kIdle || bytes_available(socket_.native_handle()) > 0) return false;
  close();
  return true;
}

template <class Protocol>
void HttpConnection<Protocol>::note_drain() {
  if (!membership_) return;
  bool arriving = false;
  switch (phase_) {
    case Phase::kReading:  // reading starts only once bytes (or an end of stream) are there
      arriving = true;
      break;
    case Phase::kIdle:
      arriving = bytes_available(socket_.native_handle()) > 0;
      break;
    case Phase::kHandling:  // the request handled began before; one pipelined behind it too
      arriving =
          !unread_request_ && (buffer_.size() > 0 || bytes_available(socket_.native_handle()) > 0);
      break;
    case Phase::kLingering:
    case Phase::kClosed:
      break;
  }
  before_drain_ = arriving ? 1 : 0;
  membership_->set_reading_before_drain(arriving);
}

template <class Protocol>
std::size_t HttpConnection<Protocol>::buffer_capacity() const noexcept {
  return buffer_.capacity() + (discard_ ? discard_->size() : 0);
}

template <class Protocol>
void HttpConnection<Protocol>::close() {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kClosed;
  deadline_ = Clock::time_point::max();
  watching_ = false;
  ++watch_generation_;
  boost::system::error_code ignored;
  socket_.shutdown(Protocol::socket::shutdown_both, ignored);
  socket_.close(ignored);
  membership_.reset();  // counts no more against max_connections, nor for the drain
}

// A client still sending a body we refused would get a reset instead of our answer if we closed
// now: stop sending, then read and drop what it still sends, for a bounded time.
template <class Protocol>
void HttpConnection<Protocol>::linger_then_close() {
  phase_ = Phase::kLingering;
  boost::system::error_code ignored;
  socket_.shutdown(Protocol::socket::shutdown_send, ignored);
  deadline_ = Clock::now() + kLinger;
  release_buffers();
  discard_ = std::make_unique<std::array<char, 4096>>();
  discard_rest();
}

template <class Protocol>
void HttpConnection<Protocol>::discard_rest() {
  socket_.async_read_some(
      boost::asio::buffer(*discard_),
      [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t) {
        if (ec || self->phase_ != Phase::kLingering) return self->close();
        self->discard_rest();
      });
}

// Only between operations: a pending read owns the buffer and the parser.
template <class Protocol>
void HttpConnection<Protocol>::release_buffers() {
  parser_.reset();
  buffer_.clear();
  buffer_.shrink_to_fit();
}

template class HttpConnection<boost::asio::local::stream_protocol>;
template class HttpConnection<boost::asio::ip::tcp>;

}  // namespace infervisor::supervisor
