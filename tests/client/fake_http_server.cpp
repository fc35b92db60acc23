#include "tests/client/fake_http_server.hpp"

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cctype>

namespace infervisor::testing {
namespace net = boost::asio;
namespace http = boost::beast::http;
using net::local::stream_protocol;
constexpr auto kAwait = net::as_tuple(net::use_awaitable);

std::string http_response(unsigned status, std::string_view body, const Headers& headers) {
  const auto reason = http::obsolete_reason(static_cast<http::status>(status));
  std::string raw = fmt::format("HTTP/1.1 {} {}\r\n", status, reason);
  for (const auto& [name, value] : headers)
    raw += fmt::format("{}: {}\r\n", name, value);
  raw += fmt::format("Content-Length: {}\r\n\r\n", body.size());
  return raw + std::string(body);
}

std::optional<std::string> FakeHttpServer::Received::header(std::string_view name) const {
  const auto lower = [](std::string_view text) {
    std::string out(text);
    for (auto& c : out)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  for (const auto& [key, value] : headers) {
    if (lower(key) == lower(name)) return value;
  }
  return std::nullopt;
}

FakeHttpServer::FakeHttpServer()
    : socket_path_(dir_ / "fake.sock"), acceptor_(io_, stream_protocol::endpoint(socket_path_)) {
  net::co_spawn(io_, accept_loop(), net::detached);
  thread_ = std::thread([this] { io_.run(); });
}

FakeHttpServer::~FakeHttpServer() {
  io_.stop();
  thread_.join();
}

void FakeHttpServer::reply(std::string raw, After after) {
  reply([raw = std::move(raw)](const Received&) { return raw; }, after);
}

void FakeHttpServer::reply(std::function<std::string(const Received&)> respond, After after) {
  std::lock_guard lock(mutex_);
  canned_.push_back(Canned{std::move(respond), after});
}

std::vector<FakeHttpServer::Received> FakeHttpServer::received() const {
  std::lock_guard lock(mutex_);
  return received_;
}

FakeHttpServer::Canned FakeHttpServer::next() {
  std::lock_guard lock(mutex_);
  if (canned_.empty()) {
    return Canned{[](const Received&) {
                    return http_response(500,
                                         R"({"error":"fake server: no canned response left"})");
                  },
                  After::kKeepOpen};
  }
  auto canned = std::move(canned_.front());
  canned_.pop_front();
  return canned;
}

net::awaitable<void> FakeHttpServer::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(kAwait);
    if (ec) co_return;
    ++connections_;
    net::co_spawn(io_, serve(std::move(socket)), net::detached);
  }
}

net::awaitable<void> FakeHttpServer::serve(stream_protocol::socket socket) {
  boost::beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(std::uint64_t{1} << 30);
    auto [read_error, read_bytes] = co_await http::async_read(socket, buffer, parser, kAwait);
    if (read_error) co_return;
    const auto& message = parser.get();
    Received received{
        std::string(message.method_string()), std::string(message.target()), {}, message.body()};
    for (const auto& field : message) {
      received.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    {
      std::lock_guard lock(mutex_);
      received_.push_back(received);
    }
    const auto canned = next();
    const auto raw = canned.respond(received);
    if (canned.after == After::kNoReply) {
      char byte = 0;
      for (;;) {
        auto [error, n] = co_await socket.async_read_some(net::buffer(&byte, 1), kAwait);
        if (error) co_return;
      }
    }
    auto [write_error, written] = co_await net::async_write(socket, net::buffer(raw), kAwait);
    if (write_error) co_return;
    if (canned.after == After::kClose) {
      boost::system::error_code ignored;
      socket.close(ignored);
      ++closed_;
      co_return;
    }
  }
}

}  // namespace infervisor::testing
