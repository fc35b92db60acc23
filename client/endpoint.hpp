// Where the server is: a Unix socket path (the default) or an HTTP host and port.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <variant>

namespace infervisor::client {

struct UnixEndpoint {
  std::filesystem::path path;
};

struct TcpEndpoint {
  std::string host;  // a name, an IPv4 address or an IPv6 address without brackets
  std::uint16_t port = 0;
};

using Endpoint = std::variant<UnixEndpoint, TcpEndpoint>;

// "http://HOST:PORT" with an optional trailing "/"; IPv6 hosts in brackets ("http://[::1]:8000").
// Throws InfervisorError(kInvalidArgument) naming what is wrong. There is no TLS: https is refused.
TcpEndpoint parse_url(std::string_view url);

// "unix:/run/infervisor/infervisor.sock" or "http://host:port", for error messages.
std::string describe(const Endpoint& endpoint);

// The HTTP Host header value: "host:port", or "localhost" for a Unix socket.
std::string host_header(const Endpoint& endpoint);

}  // namespace infervisor::client
