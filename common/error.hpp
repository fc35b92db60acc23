// Errors: `Result<T>` (an expected-style value) on the shared-memory and per-job paths, where a bad
// frame or a dead peer is ordinary; `InfervisorError` (an exception) for setup and configuration.
#pragma once

#include <fmt/format.h>

#include <boost/system/result.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

namespace infervisor {

enum class ErrorCode {
  kInvalidArgument,  // the caller asked for something impossible (too large, bad name, ...)
  kCorrupt,          // bytes read from a peer failed validation
  kTooLarge,         // does not fit the fixed-size ring, ever
  kTimeout,          // a bounded wait ran out
  kPeerGone,         // the other process is dead or the segment is stale
  kSystem,           // an OS call failed; the message names it and errno
  kModel,            // the model itself raised
};

std::string_view error_code_name(ErrorCode code) noexcept;

struct Error {
  ErrorCode code;
  std::string message;
};

template <class T>
using Result = boost::system::result<T, Error>;

template <class... Args>
Error make_error(ErrorCode code, fmt::format_string<Args...> format, Args&&... args) {
  return Error{code, fmt::format(format, std::forward<Args>(args)...)};
}

class InfervisorError : public std::runtime_error {
 public:
  explicit InfervisorError(Error error) : std::runtime_error(error.message), code_(error.code) {}
  InfervisorError(ErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

// Lets Result<T>::value() throw InfervisorError when it holds an error (found by ADL).
[[noreturn]] void throw_exception_from_error(const Error& error,
                                             const boost::source_location& location);

// "what failed: strerror(errno)" as an Error with code kSystem; reads errno itself.
Error system_error(std::string_view what);

}  // namespace infervisor
