#include "client/http_transport.hpp"

#include <fmt/format.h>
#include <sys/un.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <stdexcept>
#include <variant>

#include "common/error.hpp"

namespace infervisor::client {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
using UnixStream = beast::basic_stream<net::local::stream_protocol>;
using TcpStream = beast::tcp_stream;

namespace {

constexpr std::uint32_t kMaxResponseHeaderBytes = 64 * 1024;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Control characters or spaces in the request line or a header value would let a model name
// split the request (header injection); our own code never puts them there.
void check_request(const HttpRequest& request) {
  const auto clean = [](std::string_view text, bool allow_space) {
    for (const char c : text) {
      const auto byte = static_cast<unsigned char>(c);
      if (byte < 0x20 || byte == 0x7f || (byte == ' ' && !allow_space)) return false;
    }
    return !text.empty();
  };
  if (!clean(request.method, false) || !clean(request.target, false) ||
      !request.target.starts_with('/')) {
    throw InfervisorError(ErrorCode::kInvalidArgument, fmt::format("bad HTTP request line '{} {}'",
                                                                   request.method, request.target));
  }
  for (const auto& [name, value] : request.headers) {
    if (!clean(name, false) || (!value.empty() && !clean(value, true))) {
      throw InfervisorError(ErrorCode::kInvalidArgument,
                            fmt::format("bad HTTP header '{}' in {}", name, request.describe()));
    }
  }
}

// The request line and headers, written by hand so that they and the body leave in one gather
// write (two writes on TCP would meet Nagle's algorithm and a delayed ACK: 40 ms per request).
std::string request_head(const HttpRequest& request, std::string_view host, std::size_t body_size) {
  std::string head = fmt::format("{} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: infervisorctl\r\n",
                                 request.method, request.target, host);
  for (const auto& [name, value] : request.headers)
    head += fmt::format("{}: {}\r\n", name, value);
  if (body_size > 0 || request.method != "GET") {
    head += fmt::format("Content-Length: {}\r\n", body_size);
  }
  return head + "\r\n";
}

bool closed_by_peer(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == http::error::partial_message;
}

}  // namespace

std::optional<std::string_view> HttpResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

struct HttpTransport::Impl {
  TransportOptions options;
  net::io_context io;
  std::variant<std::monostate, UnixStream, TcpStream> stream;
  beast::flat_buffer buffer;  // bytes read past the last response stay here for the next one
  std::uint64_t connections_opened = 0;

  // The outcome of one attempt at an exchange.
  struct Attempt {
    error_code ec;
    std::string_view stage;         // "sending" or "reading the response to"
    bool response_started = false;  // any response byte arrived
    HttpResponse response;
    bool keep_alive = false;
  };

  explicit Impl(TransportOptions o) : options(std::move(o)) {}

  // Every operation here is started, then the io_context runs until it has completed; the
  // stream's own deadline closes the socket if it takes too long, which completes it.
  void run() {
    io.restart();
    io.run();
  }

  bool connected() const { return !std::holds_alternative<std::monostate>(stream); }

  void disconnect() {
    stream = std::monostate{};  // the stream's destructor closes the socket
    buffer.clear();
  }

  [[noreturn]] void fail_connect(ErrorCode code, std::string_view why) {
    disconnect();
    std::string hint;
    if (std::holds_alternative<UnixEndpoint>(options.endpoint)) hint = " (is infervisord running?)";
    throw InfervisorError(
        code, fmt::format("cannot connect to {}: {}{}", describe(options.endpoint), why, hint));
  }

  void connect_unix(const UnixEndpoint& endpoint) {
    if (endpoint.path.native().size() >= sizeof(sockaddr_un::sun_path)) {
      throw InfervisorError(ErrorCode::kInvalidArgument,
                            fmt::format("socket path {} is longer than the {} bytes a Unix "
                                        "socket address holds",
                                        endpoint.path.string(), sizeof(sockaddr_un::sun_path) - 1));
    }
    auto& socket = stream.emplace<UnixStream>(io);
    socket.expires_after(options.connect_timeout);
    error_code ec;
    socket.async_connect(net::local::stream_protocol::endpoint(endpoint.path.native()),
                         [&](error_code e) { ec = e; });
    run();
    if (ec == beast::error::timeout) fail_connect(ErrorCode::kTimeout, "timed out");
    if (ec) fail_connect(ErrorCode::kPeerGone, ec.message());
  }

  void connect_tcp(const TcpEndpoint& endpoint) {
    // Name resolution has no stream to carry a deadline, so a timer cancels it.
    net::ip::tcp::resolver resolver(io);
    net::steady_timer timer(io, options.connect_timeout);
    net::ip::tcp::resolver::results_type results;
    error_code ec;
    bool resolved = false;
    resolver.async_resolve(endpoint.host, std::to_string(endpoint.port),
                           [&](error_code e, net::ip::tcp::resolver::results_type r) {
                             ec = e;
                             results = std::move(r);
                             resolved = true;
                             timer.cancel();
                           });
    timer.async_wait([&](error_code e) {
      if (!e && !resolved) resolver.cancel();
    });
    run();
    if (ec == net::error::operation_aborted)
      fail_connect(ErrorCode::kTimeout, "name lookup timed out");
    if (ec) fail_connect(ErrorCode::kPeerGone, fmt::format("cannot resolve: {}", ec.message()));

    auto& socket = stream.emplace<TcpStream>(io);
    socket.expires_after(options.connect_timeout);
    socket.async_connect(results, [&](error_code e, const net::ip::tcp::endpoint&) { ec = e; });
    run();
    if (ec == beast::error::timeout) fail_connect(ErrorCode::kTimeout, "timed out");
    if (ec) fail_connect(ErrorCode::kPeerGone, ec.message());
    socket.socket().set_option(net::ip::tcp::no_delay(true), ec);  // best effort
  }

  void connect() {
    if (const auto* unix = std::get_if<UnixEndpoint>(&options.endpoint)) {
      connect_unix(*unix);
    } else {
      connect_tcp(std::get<TcpEndpoint>(options.endpoint));
    }
    ++connections_opened;
  }

  template <class Stream>
  Attempt attempt(Stream& socket, const HttpRequest& request) {
    Attempt out;
    std::size_t body_size = request.body.size();
    for (const auto part : request.body_tail)
      body_size += part.size();
    const std::string head = request_head(request, host_header(options.endpoint), body_size);
    std::vector<net::const_buffer> buffers{net::buffer(head), net::buffer(request.body)};
    for (const auto part : request.body_tail)
      buffers.push_back(net::buffer(part.data(), part.size()));

    // One deadline covers sending the request and reading the whole response.
    socket.expires_after(options.request_timeout);
    out.stage = "sending";
    net::async_write(socket, buffers, [&](error_code e, std::size_t) { out.ec = e; });
    run();
    if (out.ec) return out;

    out.stage = "reading the response to";
    http::response_parser<http::string_body> parser;
    parser.header_limit(kMaxResponseHeaderBytes);
    parser.body_limit(options.max_response_bytes);
    http::async_read(socket, buffer, parser, [&](error_code e, std::size_t) { out.ec = e; });
    run();
    out.response_started = parser.got_some();
    if (out.ec) return out;

    auto message = parser.release();
    out.keep_alive = message.keep_alive();
    out.response.status = message.result_int();
    out.response.reason = std::string(message.reason());
    for (const auto& field : message) {
      out.response.headers.emplace_back(std::string(field.name_string()),
                                        std::string(field.value()));
    }
    out.response.body = std::move(message.body());
    return out;
  }

  Attempt attempt(const HttpRequest& request) {
    return std::visit(
        [&](auto& socket) -> Attempt {
          if constexpr (std::is_same_v<std::decay_t<decltype(socket)>, std::monostate>) {
            throw std::logic_error("HttpTransport: attempt() without a connection");
          } else {
            return attempt(socket, request);
          }
        },
        stream);
  }

  [[noreturn]] void fail_exchange(const HttpRequest& request, const Attempt& failed) {
    const auto where =
        fmt::format("{} {} at {}", failed.stage, request.describe(), describe(options.endpoint));
    const auto& ec = failed.ec;
    if (ec == beast::error::timeout) {
      throw InfervisorError(
          ErrorCode::kTimeout,
          fmt::format("timed out after {} ms while {}", options.request_timeout.count(), where));
    }
    if (ec == http::error::body_limit) {
      throw InfervisorError(
          ErrorCode::kTooLarge,
          fmt::format("response larger than {} bytes while {}", options.max_response_bytes, where));
    }
    if (closed_by_peer(ec)) {
      throw InfervisorError(ErrorCode::kPeerGone,
                            fmt::format("connection closed by the server while {}", where));
    }
    // Any other error from the HTTP parser.
    if (ec.category() == http::make_error_code(http::error::end_of_stream).category()) {
      throw InfervisorError(
          ErrorCode::kCorrupt,
          fmt::format("malformed HTTP response ({}) while {}", ec.message(), where));
    }
    throw InfervisorError(ErrorCode::kSystem, fmt::format("{} while {}", ec.message(), where));
  }
};

HttpTransport::HttpTransport(TransportOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
HttpTransport::~HttpTransport() = default;
HttpTransport::HttpTransport(HttpTransport&&) noexcept = default;
HttpTransport& HttpTransport::operator=(HttpTransport&&) noexcept = default;

const Endpoint& HttpTransport::endpoint() const noexcept {
  return impl_->options.endpoint;
}

std::uint64_t HttpTransport::connections_opened() const noexcept {
  return impl_->connections_opened;
}

HttpResponse HttpTransport::exchange(const HttpRequest& request) {
  check_request(request);
  auto& impl = *impl_;
  for (int round = 0;; ++round) {
    const bool reused = impl.connected();
    if (!reused) impl.connect();
    auto outcome = impl.attempt(request);
    if (!outcome.ec) {
      if (!outcome.keep_alive) impl.disconnect();
      return std::move(outcome.response);
    }
    impl.disconnect();
    // A kept-alive connection the server closed while idle fails before any response byte; the
    // server never processed the request, so one more try on a fresh connection is safe.
    if (reused && round == 0 && !outcome.response_started && closed_by_peer(outcome.ec)) continue;
    impl.fail_exchange(request, outcome);
  }
}

}  // namespace infervisor::client
