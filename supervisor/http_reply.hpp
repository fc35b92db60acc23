// What the daemon answers one HTTP request with, before Beast turns it into a response.
#pragma once

#include <fmt/format.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace infervisor::supervisor {

struct HttpReply {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Set when the body is a JSON header followed by binary tensor data (binary data extension).
  std::optional<std::size_t> inference_header_length;
  // Further response headers, e.g. {"Retry-After", "1"}.
  std::vector<std::pair<std::string, std::string>> headers;
};

// {"error": "<message>"} with `status`.
HttpReply error_reply(unsigned status, std::string_view message);

// A request the daemon refuses: thrown while handling it, answered with error_reply().
class HttpError : public std::runtime_error {
 public:
  HttpError(unsigned status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  unsigned status() const noexcept { return status_; }

 private:
  unsigned status_;
};

template <class... Args>
[[noreturn]] void fail_request(unsigned status, fmt::format_string<Args...> format,
                               Args&&... args) {
  throw HttpError(status, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace infervisor::supervisor
