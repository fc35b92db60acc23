#include "supervisor/http_request_checks.hpp"

#include <boost/beast/core/string.hpp>
#include <span>
#include <string>
#include <vector>

namespace infervisor::supervisor {
namespace http = boost::beast::http;
namespace {

// A header value as quoted in an error message: bounded, since the message goes back whole.
std::string quoted(std::string_view value) {
  constexpr std::size_t kMax = 64;
  return value.size() <= kMax ? std::string(value) : std::string(value.substr(0, kMax)) + "...";
}

// The codings of every Transfer-Encoding field, in order: "gzip, chunked" and two fields
// "gzip" then "chunked" mean the same (RFC 9110 5.3). Empty list elements are allowed and skipped.
std::vector<std::string_view> transfer_codings(const HttpRequestHead& head) {
  std::vector<std::string_view> codings;
  const auto [first, last] = head.equal_range(http::field::transfer_encoding);
  for (auto field = first; field != last; ++field) {
    std::string_view list = field->value();
    while (!list.empty()) {
      const auto comma = list.find(',');
      auto element = list.substr(0, comma);
      const auto begin = element.find_first_not_of(" \t");
      element = begin == std::string_view::npos
                    ? std::string_view{}
                    : element.substr(begin, element.find_last_not_of(" \t") - begin + 1);
      if (!element.empty()) codings.push_back(element);
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  return codings;
}

}  // namespace

std::optional<HttpReply> refuse_request_head(const HttpRequestHead& head,
                                             const HttpLimits& limits) {
  const auto fields = static_cast<std::size_t>(std::distance(head.begin(), head.end()));
  if (fields > limits.max_header_fields) {
    return error_reply(431, fmt::format("the request has {} header fields; at most {} are allowed",
                                        fields, limits.max_header_fields));
  }
  if (head.count(http::field::transfer_encoding) > 0) {
    const auto value = quoted(head[http::field::transfer_encoding]);
    if (head.version() < 11)
      return error_reply(400, "Transfer-Encoding is not allowed in an HTTP/1.0 request");
    if (head.count(http::field::content_length) > 0)
      return error_reply(400, "the request has both Content-Length and Transfer-Encoding");
    const auto codings = transfer_codings(head);
    if (codings.empty()) return error_reply(400, "Transfer-Encoding is empty");
    if (!boost::beast::iequals(codings.back(), "chunked")) {
      return error_reply(
          400, fmt::format("Transfer-Encoding '{}' does not end in chunked: the body's length "
                           "cannot be known",
                           value));
    }
    const auto before_last = std::span(codings).first(codings.size() - 1);
    for (const auto coding : before_last) {
      if (boost::beast::iequals(coding, "chunked"))
        return error_reply(400, "Transfer-Encoding applies chunked more than once");
    }
    if (!before_last.empty()) {
      return error_reply(501, fmt::format("transfer coding '{}' is not supported (only chunked)",
                                          quoted(before_last.front())));
    }
  }
  if (head.version() >= 11) {
    const auto hosts = head.count(http::field::host);
    if (hosts == 0) return error_reply(400, "an HTTP/1.1 request needs a Host header");
    if (hosts > 1)
      return error_reply(400,
                         fmt::format("the request has {} Host headers; one is allowed", hosts));
  }
  return std::nullopt;
}

}  // namespace infervisor::supervisor
