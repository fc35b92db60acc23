// The ring fuzzer's input format (ring_fuzzer.cpp), which the seed generator (fuzz_seeds.cpp)
// writes too. All integers little-endian.
//
//   byte 0       bits 0-5: the ring's capacity, 64 * (1 + n) bytes; bit 6: producer mode
//   bytes 1-8    control.read_position
//   bytes 9-16   control.write_position
//   then         the ring's bytes, `capacity` of them (a shorter input leaves the rest zero)
//   then         steps, until the input ends:
//                  consumer mode: a peer's write into the ring between two peeks:
//                                 u16 offset (modulo capacity), u8 length, that many bytes
//                  producer mode: u64 read position the consumer publishes, u16 payload size
//
// A commit word (the first 8 bytes of a 64-byte slot) that reads 1 or 2 after a write is replaced
// by the tag of the record that would start there in the consumer's current lap (1) or in the lap
// before (2, a stale record): the fuzzer cannot compute tags, and without them it could only ever
// mutate records that the seeds already committed.
#pragma once

#include <cstddef>
#include <cstdint>

#include "shm/layout.hpp"

namespace infervisor::shm::fuzz {

inline constexpr std::uint64_t kCommitKey = 0x243f6a8885a308d3ull;  // fixed: seeds carry its tags
inline constexpr std::size_t kPreambleBytes = 17;
inline constexpr std::uint8_t kProducerMode = 0x40;
inline constexpr std::uint64_t kStampThisLap = 1;
inline constexpr std::uint64_t kStampLastLap = 2;
inline constexpr std::size_t kConsumerStepBytes = 3;  // before the written bytes
inline constexpr std::size_t kProducerStepBytes = 10;

constexpr std::uint64_t capacity_from(std::uint8_t first) noexcept {
  return kRecordAlignment * (1 + (first & 0x3f));
}

constexpr std::uint8_t first_byte(std::uint64_t capacity, bool producer) noexcept {
  return static_cast<std::uint8_t>((capacity / kRecordAlignment - 1) |
                                   (producer ? kProducerMode : 0));
}

}  // namespace infervisor::shm::fuzz
