#include "client/http_error.hpp"

#include <fmt/format.h>

namespace infervisor::client {
namespace {

// 4xx: the request was wrong. 408/504: something ran out of time. 503: the server or model is
// not there to serve it. Anything else: the server failed, most often the model raising.
ErrorCode code_for(unsigned status) {
  if (status == 408 || status == 504) return ErrorCode::kTimeout;
  if (status >= 400 && status < 500) return ErrorCode::kInvalidArgument;
  if (status == 503) return ErrorCode::kPeerGone;
  return ErrorCode::kModel;
}

std::string message_for(std::string_view request, unsigned status, std::string_view reason,
                        std::string_view server_message) {
  std::string message = fmt::format("{}: HTTP {}", request, status);
  if (!reason.empty()) message += fmt::format(" {}", reason);
  if (!server_message.empty()) message += fmt::format(": {}", server_message);
  return message;
}

}  // namespace

HttpError::HttpError(std::string_view request, unsigned status, std::string_view reason,
                     std::string server_message)
    : InfervisorError(code_for(status), message_for(request, status, reason, server_message)),
      status_(status),
      server_message_(std::move(server_message)) {}

}  // namespace infervisor::client
