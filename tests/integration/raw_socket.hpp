// Client connections in raw bytes, for what raw_request() hides: many connections at once,
// requests sent in pieces, half-closes, and watching what the daemon does with the connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/unique_fd.hpp"

namespace infervisor::testing {

// A blocking socket connected to the daemon; invalid if connect() failed (errno says why).
UniqueFd connect_unix(const std::filesystem::path& socket);
UniqueFd connect_tcp(std::uint16_t port);
std::uint16_t free_loopback_port();

// Writes every byte (false if the connection broke).
bool send_all(int fd, std::string_view bytes);

// "METHOD TARGET HTTP/1.1" with Host, Content-Length and `headers` (each "Name: value\r\n").
std::string http_request(std::string_view method, std::string_view target,
                         std::string_view body = "", std::string_view headers = "");

struct RawResponse {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string header(const std::string& lower_case_name) const;
};

// One connection's reading side: bytes that arrived past the last response are kept for the next.
class ResponseReader {
 public:
  explicit ResponseReader(int fd) : fd_(fd) {}
  // The next response, or nullopt if the connection ended or nothing came for `patience`.
  // `head`: the answer to a HEAD request, which has no body whatever Content-Length says.
  std::optional<RawResponse> next(std::chrono::milliseconds patience = std::chrono::seconds(30),
                                  bool head = false);
  // True if the daemon closes the connection with nothing more sent, within `patience`.
  bool closes(std::chrono::milliseconds patience = std::chrono::seconds(10));

 private:
  bool read_more(std::chrono::milliseconds patience);
  int fd_;
  std::string pending_;
  bool ended_ = false;
};

// The daemon's resident memory (VmRSS), in bytes.
std::size_t resident_bytes(pid_t pid);

// Waits until `text` appears in the daemon's log; false after `timeout`.
class RunningDaemon;
bool wait_for_log(const RunningDaemon& daemon, std::string_view text,
                  std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace infervisor::testing
