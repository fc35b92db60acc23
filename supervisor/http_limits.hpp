// What one HTTP connection may cost the daemon: bytes per request, header size, time per step,
// and how many connections there may be at once. Set from the config at start.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace infervisor::supervisor {

struct HttpLimits {
  std::uint64_t max_body_bytes = 256ull << 20;  // max_request_size
  // max_json_request_size: a body without Inference-Header-Content-Length is JSON, parsed on the
  // event loop, so it is bounded more tightly than binary tensor data.
  std::uint64_t max_json_body_bytes = 32ull << 20;
  // The request line and header fields together, and the number of fields; beyond: 431.
  std::uint32_t max_header_bytes = 64 * 1024;
  std::size_t max_header_fields = 100;
  // Unix and TCP connections together (max_connections).
  std::size_t max_connections = 4096;
  std::chrono::seconds idle_timeout{300};  // between requests on a kept-alive connection
  std::chrono::seconds io_timeout{60};     // reading one request / writing one reply
};

}  // namespace infervisor::supervisor
