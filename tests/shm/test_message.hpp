// The messages the ring tests send: random bytes behind a header with a sequence number and a
// checksum, which the receiver verifies, so a torn, reordered, repeated or stale record cannot pass
// unnoticed. An empty payload is a message too: the record's job id alone carries its sequence.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace infervisor::shm::testing {

struct MessageHeader {
  std::uint64_t sequence;
  std::uint64_t checksum;  // of the body behind this header, seeded with the sequence and length
};

inline constexpr std::uint64_t kMessageHeaderBytes = sizeof(MessageHeader);

// splitmix64: small, fast, and the same in every process given the same seed.
class Random {
 public:
  explicit Random(std::uint64_t seed) noexcept : state_(seed) {}
  std::uint64_t next() noexcept;
  std::uint64_t below(std::uint64_t bound) noexcept { return bound == 0 ? 0 : next() % bound; }

 private:
  std::uint64_t state_;
};

// Payload sizes from 0 to `max_bytes`, spread over every order of magnitude so that both tiny
// records and records a good fraction of the ring long go through. Never 1..kMessageHeaderBytes-1.
class MessageSizes {
 public:
  MessageSizes(std::uint64_t seed, std::uint64_t max_bytes) noexcept;
  std::uint64_t next() noexcept;

 private:
  Random random_;
  std::uint64_t max_bytes_;
};

std::uint64_t checksum(std::span<const std::byte> bytes, std::uint64_t seed) noexcept;

// Writes message `sequence` over all of `payload` (empty, or at least kMessageHeaderBytes long).
void fill_message(std::span<std::byte> payload, std::uint64_t sequence, Random& body) noexcept;

// Empty if the record (`job_id`, `payload`) is message `expected_sequence`; otherwise what is
// wrong.
std::string check_message(std::uint64_t job_id, std::span<const std::byte> payload,
                          std::uint64_t expected_sequence);

}  // namespace infervisor::shm::testing
