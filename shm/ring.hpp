// A single-producer single-consumer ring of variable-length records in one contiguous byte area.
//
// Publication: the producer writes a record's header fields and payload, then stores the header's
// commit word (commit_tag of the record's position) with release order; the consumer loads the
// commit word where the next record must start with acquire order, and reads the record only
// once it matches. So everything the producer wrote before commit() is visible to the consumer
// once it sees the record, and a producer killed mid-write leaves nothing the consumer can see.
// The consumer never reads a shared write index, so a message costs it the record's own cache
// lines and nothing more. release() publishes read_position (release order) after the
// consumer's last read, and the producer reuses bytes only behind the read_position it loaded
// (acquire order): it never overwrites bytes still being read.
//
// No lock is ever held. Every header and index read from the peer is validated before use; a
// violation is a kCorrupt error, never a crash. A record header is fetched from the ring once,
// field by field with atomic loads, into a copy that is then judged and used: a peer rewriting it
// meanwhile cannot get one size past the checks and another used.
//
// Records start at multiples of 64 bytes and never split across the wrap: when the next record
// does not fit before the end, the producer fills the tail with a padding record that the consumer
// skips by itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "common/error.hpp"
#include "shm/layout.hpp"
#include "shm/wait.hpp"

namespace infervisor::shm {

// A ring as mapped in this process. Validated once by whoever builds it (Segment::open).
struct RingView {
  RingControl* control = nullptr;
  std::byte* data = nullptr;
  std::uint64_t capacity = 0;  // a multiple of kRecordAlignment
  std::uint64_t commit_key = 0;
};

// The largest payload a ring of `capacity` bytes can carry in one record.
constexpr std::uint64_t max_payload_bytes(std::uint64_t capacity) noexcept {
  return capacity >= sizeof(RecordHeader) ? capacity - sizeof(RecordHeader) : 0;
}

struct Reservation {
  std::span<std::byte> payload;  // write the record's bytes here, then commit()
  std::uint64_t start_position = 0;
  std::uint64_t end_position = 0;
  // When the record wraps: the padding record in front of it, at start_position - padding_bytes,
  // committed together with it.
  std::uint64_t padding_bytes = 0;
};

class RingWriter {
 public:
  RingWriter() = default;
  // `consumer` wakes the consumer when it is parked on control->data_ready.
  RingWriter(RingView ring, Doorbell consumer) noexcept;

  std::uint64_t max_payload_bytes() const noexcept {
    return shm::max_payload_bytes(ring_.capacity);
  }

  // Claims room for one record without blocking. nullopt: not enough room now (retry once the
  // consumer releases). Error kTooLarge: it can never fit; kCorrupt: the consumer's index is bad.
  // At most one reservation is outstanding; a new one discards an uncommitted one.
  Result<std::optional<Reservation>> try_reserve(RecordType type, std::uint64_t job_id,
                                                 std::uint64_t payload_bytes) noexcept;

  // Like try_reserve, but waits (spin, then park on space_ready) until `deadline`: kTimeout then.
  Result<Reservation> reserve(RecordType type, std::uint64_t job_id, std::uint64_t payload_bytes,
                              const SpinPolicy& policy, Clock::time_point deadline) noexcept;

  // Publishes the reserved record and rings the consumer's doorbell if it is parked.
  void commit(const Reservation& reservation) noexcept;

  // True once the consumer has released everything committed so far.
  bool drained() const noexcept;

  // The consumer's read position now (seq_cst: usable as the condition of a wait on space_slot).
  // A caller whose try_reserve found no room may retry once this differs from
  // consumer_position_seen(), the position that try_reserve judged the room by.
  std::uint64_t consumer_position() const noexcept;
  std::uint64_t consumer_position_seen() const noexcept { return read_position_cache_; }
  // Bytes committed (or padded) and not yet released by the consumer, as last seen; for metrics.
  std::uint64_t bytes_in_use() const noexcept {
    const auto read = consumer_position();
    return write_position_ >= read ? write_position_ - read : 0;
  }
  std::uint64_t capacity() const noexcept { return ring_.capacity; }

  std::uint64_t wakeups() const noexcept { return consumer_.wakeups(); }
  WaitSlot& space_slot() noexcept { return ring_.control->space_ready; }

 private:
  Result<std::uint64_t> free_bytes(bool refresh) noexcept;
  std::byte* at_offset(std::uint64_t offset) const noexcept { return ring_.data + offset; }

  RingView ring_;
  Doorbell consumer_;
  std::uint64_t write_position_ = 0;  // ours alone; mirrors control->write_position
  std::uint64_t write_offset_ = 0;    // write_position_ % capacity, kept without dividing
  std::uint64_t read_position_cache_ = 0;
};

struct RecordView {
  RecordType type = RecordType::kPadding;
  std::uint64_t job_id = 0;
  std::span<const std::byte> payload;
  std::uint64_t end_position = 0;
};

class RingReader {
 public:
  RingReader() = default;
  // `producer` wakes the producer when it is parked on control->space_ready.
  RingReader(RingView ring, Doorbell producer) noexcept;

  // The oldest unreleased record, in place, or nullopt if the ring is empty. Padding is skipped.
  // Calling it again without release() returns the same record.
  Result<std::optional<RecordView>> try_peek() noexcept;

  // Waits (spin, then park on data_ready) for a record until `deadline`: kTimeout then.
  Result<RecordView> peek(const SpinPolicy& policy, Clock::time_point deadline) noexcept;

  // Gives the record's bytes back to the producer; `record` must be the one last peeked.
  void release(const RecordView& record) noexcept;

  // A cheap look, for spinning: has the producer committed the next record?
  bool has_data_hint() const noexcept;

  std::uint64_t wakeups() const noexcept { return producer_.wakeups(); }
  WaitSlot& data_slot() noexcept { return ring_.control->data_ready; }

 private:
  void advance(std::uint64_t bytes) noexcept;
  void publish_read_position() noexcept;

  RingView ring_;
  Doorbell producer_;
  std::uint64_t read_position_ = 0;  // ours alone; mirrors control->read_position
  std::uint64_t read_offset_ = 0;    // read_position_ % capacity, kept without dividing
};

// Initializes a ring's control block in a freshly created segment.
void initialize_ring(RingControl& control) noexcept;

}  // namespace infervisor::shm
