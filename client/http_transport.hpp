// HTTP/1.1 client transport over a Unix stream socket or TCP: one kept-alive connection, opened
// on first use and reopened when the server closes it. Synchronous, with a deadline on connecting
// and one on each request/response exchange. Not thread-safe: one caller at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client/endpoint.hpp"

namespace infervisor::client {

struct HttpRequest {
  std::string method;  // "GET" or "POST"
  std::string target;  // origin-form, e.g. "/v2/models/m/infer"
  // Besides Host, User-Agent and Content-Length, which the transport writes itself.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::vector<std::span<const std::byte>> body_tail;  // sent after `body`, without copying

  std::string describe() const { return method + " " + target; }  // for error messages
};

struct HttpResponse {
  unsigned status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first header named `name`, compared case-insensitively as HTTP requires.
  std::optional<std::string_view> header(std::string_view name) const;
};

struct TransportOptions {
  Endpoint endpoint;
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds request_timeout{60'000};  // sending the request and reading the reply
  std::uint64_t max_response_bytes = std::uint64_t{4} << 30;
};

class HttpTransport {
 public:
  explicit HttpTransport(TransportOptions options);
  ~HttpTransport();
  HttpTransport(HttpTransport&&) noexcept;
  HttpTransport& operator=(HttpTransport&&) noexcept;

  // Sends `request` and reads the whole response, whatever its status. A server may close a
  // kept-alive connection while it is idle; if the reused connection turns out closed before any
  // response byte arrives, the request is sent once more on a fresh one (the server never saw
  // it). Throws InfervisorError: kPeerGone (cannot connect, connection lost), kTimeout,
  // kTooLarge (response over max_response_bytes), kCorrupt (not HTTP), kInvalidArgument.
  HttpResponse exchange(const HttpRequest& request);

  const Endpoint& endpoint() const noexcept;
  std::uint64_t connections_opened() const noexcept;  // how often it had to connect

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace infervisor::client
