// Tensor frames streamed from one process to the other through a ring, as the supervisor will send
// request bodies: the producer memcpy's a source buffer into the reserved record (as it will copy
// an HTTP body); the consumer decodes the frame and reads every payload byte in place (summing it
// as 64-bit words, a memory-bound full read). Next to it, single-thread memcpy of the same frames.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace infervisor::bench {

struct StreamResult {
  std::uint64_t frames = 0;  // measured, after the warm-up
  double ring_gb_per_s = 0;  // payload bytes / time from first reserve to the consumer's ACK
  double memcpy_gb_per_s =
      0;  // the same frames, memcpy'd by one thread into two alternating buffers
};

StreamResult measure_streaming(std::uint64_t frame_bytes, std::uint64_t total_bytes,
                               std::optional<int> peer_cpu);

// The consuming end ("--peer stream-consume <channel arguments>").
int serve_stream_consumer(std::span<char* const> args);

}  // namespace infervisor::bench
