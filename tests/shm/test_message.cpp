#include "tests/shm/test_message.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>

namespace infervisor::shm::testing {

std::uint64_t Random::next() noexcept {
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

MessageSizes::MessageSizes(std::uint64_t seed, std::uint64_t max_bytes) noexcept
    : random_(seed), max_bytes_(std::max(max_bytes, kMessageHeaderBytes)) {}

std::uint64_t MessageSizes::next() noexcept {
  const std::uint64_t pick = random_.below(64);
  if (pick == 0) return 0;
  if (pick == 1) return max_bytes_;  // the largest allowed, now and then
  // Uniform below a random power of two: as many 100-byte records as 10000-byte ones.
  const auto magnitude = random_.below(static_cast<std::uint64_t>(std::bit_width(max_bytes_)) + 1);
  const auto size = random_.below(
      std::min(std::uint64_t{1} << std::min<std::uint64_t>(magnitude, 62), max_bytes_ + 1));
  return std::max(size, kMessageHeaderBytes);
}

std::uint64_t checksum(std::span<const std::byte> bytes, std::uint64_t seed) noexcept {
  // Word at a time: the two-process tests push gigabytes through sanitizer builds.
  std::uint64_t hash = seed ^ (bytes.size() * 0x9e3779b97f4a7c15ULL);
  std::size_t at = 0;
  for (; at + 8 <= bytes.size(); at += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, bytes.data() + at, 8);
    hash = std::rotl((hash ^ word) * 0xff51afd7ed558ccdULL, 29);
  }
  for (; at < bytes.size(); ++at) {
    hash =
        std::rotl((hash ^ std::to_integer<std::uint64_t>(bytes[at])) * 0xc4ceb9fe1a85ec53ULL, 31);
  }
  return hash;
}

void fill_message(std::span<std::byte> payload, std::uint64_t sequence, Random& body) noexcept {
  if (payload.empty()) return;
  const auto text = payload.subspan(kMessageHeaderBytes);
  std::size_t at = 0;
  for (; at + 8 <= text.size(); at += 8) {
    const std::uint64_t word = body.next();
    std::memcpy(text.data() + at, &word, 8);
  }
  if (at < text.size()) {
    const std::uint64_t word = body.next();
    std::memcpy(text.data() + at, &word, text.size() - at);
  }
  const MessageHeader header{sequence, checksum(text, sequence)};
  std::memcpy(payload.data(), &header, sizeof(header));
}

std::string check_message(std::uint64_t job_id, std::span<const std::byte> payload,
                          std::uint64_t expected_sequence) {
  if (job_id != expected_sequence) {
    return fmt::format("record for job {} where message {} was due", job_id, expected_sequence);
  }
  if (payload.empty()) return {};
  if (payload.size() < kMessageHeaderBytes) {
    return fmt::format("message {} has {} bytes, less than its header", expected_sequence,
                       payload.size());
  }
  MessageHeader header;
  std::memcpy(&header, payload.data(), sizeof(header));
  if (header.sequence != expected_sequence) {
    return fmt::format("message {} carries sequence {} in its header", expected_sequence,
                       header.sequence);
  }
  const auto actual = checksum(payload.subspan(kMessageHeaderBytes), expected_sequence);
  if (actual != header.checksum) {
    return fmt::format("message {} ({} bytes) has checksum {:#x}, its header says {:#x}",
                       expected_sequence, payload.size(), actual, header.checksum);
  }
  return {};
}

}  // namespace infervisor::shm::testing
