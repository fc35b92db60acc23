#include "common/error.hpp"

#include <cerrno>
#include <cstring>

namespace infervisor {

std::string_view error_code_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid argument";
    case ErrorCode::kCorrupt:
      return "corrupt data";
    case ErrorCode::kTooLarge:
      return "too large";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kPeerGone:
      return "peer gone";
    case ErrorCode::kSystem:
      return "system error";
    case ErrorCode::kModel:
      return "model error";
  }
  return "unknown error";
}

void throw_exception_from_error(const Error& error, const boost::source_location&) {
  throw InfervisorError(error);
}

Error system_error(std::string_view what) {
  const int saved = errno;
  return Error{ErrorCode::kSystem, fmt::format("{}: {}", what, std::strerror(saved))};
}

}  // namespace infervisor
