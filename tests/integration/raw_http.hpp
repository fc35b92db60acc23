// One HTTP exchange over a Unix socket with nothing checked on the way out: for sending what a
// well-behaved client never would (malformed JSON, lying headers, oversized bodies).
#pragma once

#include <filesystem>
#include <map>
#include <string>

namespace infervisor::testing {

struct RawReply {
  unsigned status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
};

RawReply raw_request(const std::filesystem::path& socket, const std::string& method,
                     const std::string& target, const std::string& body = "",
                     const std::map<std::string, std::string>& headers = {});

}  // namespace infervisor::testing
