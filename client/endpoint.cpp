#include "client/endpoint.hpp"

#include <fmt/format.h>

#include <charconv>

#include "common/error.hpp"

namespace infervisor::client {
namespace {

[[noreturn]] void bad_url(std::string_view url, std::string_view why) {
  throw InfervisorError(ErrorCode::kInvalidArgument,
                        fmt::format("bad URL '{}': {}; expected http://HOST:PORT", url, why));
}

}  // namespace

TcpEndpoint parse_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.starts_with("https://")) bad_url(url, "TLS is not supported");
  if (!url.starts_with(kScheme)) bad_url(url, "it does not start with http://");
  std::string_view rest = url.substr(kScheme.size());
  if (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.find_first_of("/?#@") != std::string_view::npos) {
    bad_url(url, "only a host and port are allowed, no path, query or user");
  }
  TcpEndpoint endpoint;
  std::string_view port_text;
  if (rest.starts_with('[')) {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) bad_url(url, "unterminated '[' in IPv6 host");
    endpoint.host = std::string(rest.substr(1, close - 1));
    if (rest.substr(close + 1, 1) != ":") bad_url(url, "no port after the IPv6 host");
    port_text = rest.substr(close + 2);
  } else {
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) bad_url(url, "no port");
    endpoint.host = std::string(rest.substr(0, colon));
    if (endpoint.host.find(':') != std::string::npos) bad_url(url, "IPv6 hosts need [brackets]");
    port_text = rest.substr(colon + 1);
  }
  if (endpoint.host.empty()) bad_url(url, "empty host");
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    bad_url(url, fmt::format("port '{}' is not a number from 1 to 65535", port_text));
  }
  endpoint.port = static_cast<std::uint16_t>(port);
  return endpoint;
}

std::string describe(const Endpoint& endpoint) {
  if (const auto* unix = std::get_if<UnixEndpoint>(&endpoint)) {
    return "unix:" + unix->path.string();
  }
  return "http://" + host_header(endpoint);
}

std::string host_header(const Endpoint& endpoint) {
  const auto* tcp = std::get_if<TcpEndpoint>(&endpoint);
  if (tcp == nullptr) return "localhost";
  if (tcp->host.find(':') != std::string::npos) return fmt::format("[{}]:{}", tcp->host, tcp->port);
  return fmt::format("{}:{}", tcp->host, tcp->port);
}

}  // namespace infervisor::client
