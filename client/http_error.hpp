// A request the server answered with a status other than 2xx. It keeps the status and the
// server's {"error": "..."} text apart, so a caller can tell "no such model" from "bad input".
#pragma once

#include <string>
#include <string_view>

#include "common/error.hpp"

namespace infervisor::client {

class HttpError : public InfervisorError {
 public:
  // `request` is e.g. "POST /v2/models/m/infer"; the message reads
  // "POST /v2/models/m/infer: HTTP 400 Bad Request: <server message>".
  HttpError(std::string_view request, unsigned status, std::string_view reason,
            std::string server_message);

  unsigned status() const noexcept { return status_; }
  const std::string& server_message() const noexcept { return server_message_; }

 private:
  unsigned status_;
  std::string server_message_;
};

}  // namespace infervisor::client
