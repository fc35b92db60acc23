#include "shm/ring.hpp"

#include <cstring>

namespace infervisor::shm {
namespace {

std::optional<std::uint64_t> record_bytes_for(std::uint64_t payload_bytes) noexcept {
  std::uint64_t total = 0;
  if (__builtin_add_overflow(payload_bytes, sizeof(RecordHeader), &total)) return std::nullopt;
  if (__builtin_add_overflow(total, kRecordAlignment - 1, &total)) return std::nullopt;
  return total & ~static_cast<std::uint64_t>(kRecordAlignment - 1);
}

// Everything but the commit word, which the consumer may be polling right now. Field by field,
// straight into the ring: a header built on the stack and copied over stalls store forwarding.
void write_fields(std::byte* at, RecordType type, std::uint64_t job_id, std::uint64_t payload_bytes,
                  std::uint64_t record_bytes) noexcept {
  auto* header = reinterpret_cast<RecordHeader*>(at);
  header->type = static_cast<std::uint32_t>(type);
  header->reserved = 0;
  header->job_id = job_id;
  header->payload_bytes = payload_bytes;
  header->record_bytes = record_bytes;
}

std::uint64_t& commit_word(std::byte* header) noexcept {
  return *reinterpret_cast<std::uint64_t*>(header);
}

// The fields of a committed record's header, each fetched from the ring exactly once. The peer
// may rewrite them at any moment (broken or hostile), so the reader judges and uses only this
// copy. Atomic loads, not plain ones: the compiler may fetch a plain field again after its check
// (a double fetch: a size checked, then a different size used), and a plain load racing with the
// peer's store is undefined behaviour in the first place. Relaxed order suffices: the acquire
// load of the commit word already ordered them after the producer's writes.
RecordHeader load_header(std::byte* at) noexcept {
  auto& in_ring = *reinterpret_cast<RecordHeader*>(at);
  RecordHeader header{};
  header.type = shared(in_ring.type).load(std::memory_order_relaxed);
  header.job_id = shared(in_ring.job_id).load(std::memory_order_relaxed);
  header.payload_bytes = shared(in_ring.payload_bytes).load(std::memory_order_relaxed);
  header.record_bytes = shared(in_ring.record_bytes).load(std::memory_order_relaxed);
  return header;
}

}  // namespace

void initialize_ring(RingControl& control) noexcept {
  std::memset(static_cast<void*>(&control), 0, sizeof(control));
}

// ---------------------------------------------------------------------------------------------
RingWriter::RingWriter(RingView ring, Doorbell consumer) noexcept
    : ring_(ring), consumer_(consumer) {
  write_position_ = shared(ring_.control->write_position).load(std::memory_order_acquire);
  write_offset_ = write_position_ % ring_.capacity;
  read_position_cache_ = shared(ring_.control->read_position).load(std::memory_order_acquire);
}

Result<std::uint64_t> RingWriter::free_bytes(bool refresh) noexcept {
  if (refresh) {
    const std::uint64_t read = shared(ring_.control->read_position).load(std::memory_order_acquire);
    // The consumer can only have released what we committed, and never goes backwards.
    if (read > write_position_ || read < read_position_cache_) {
      return make_error(ErrorCode::kCorrupt,
                        "ring read position {} is outside [{}, {}]: the consumer corrupted it",
                        read, read_position_cache_, write_position_);
    }
    read_position_cache_ = read;
  }
  return ring_.capacity - (write_position_ - read_position_cache_);
}

Result<std::optional<Reservation>> RingWriter::try_reserve(RecordType type, std::uint64_t job_id,
                                                           std::uint64_t payload_bytes) noexcept {
  const auto record_bytes = record_bytes_for(payload_bytes);
  if (!record_bytes || *record_bytes > ring_.capacity) {
    return make_error(ErrorCode::kTooLarge,
                      "a record of {} payload bytes does not fit a ring of {} bytes (at most {})",
                      payload_bytes, ring_.capacity, max_payload_bytes());
  }
  const std::uint64_t tail = ring_.capacity - write_offset_;
  const bool wraps = *record_bytes > tail;
  const std::uint64_t needed = wraps ? tail + *record_bytes : *record_bytes;

  auto free = free_bytes(false);
  if (free && *free < needed) free = free_bytes(true);
  if (!free) return free.error();

  if (wraps && needed > ring_.capacity) {
    // The record fits only once the consumer has passed the wrap: publish the padding alone so
    // that it skips it, and let the caller try again when it has.
    if (*free >= tail) {
      write_fields(at_offset(write_offset_), RecordType::kPadding, 0, 0, tail);
      commit(Reservation{{}, write_position_, write_position_ + tail, 0});
    }
    return std::optional<Reservation>{};
  }
  if (*free < needed) return std::optional<Reservation>{};
  Reservation reservation{{}, write_position_, 0, 0};
  std::byte* at = at_offset(write_offset_);
  if (wraps) {
    write_fields(at, RecordType::kPadding, 0, 0, tail);
    reservation.padding_bytes = tail;
    reservation.start_position = write_position_ + tail;
    at = at_offset(0);
  }
  write_fields(at, type, job_id, payload_bytes, *record_bytes);
  reservation.payload = {at + sizeof(RecordHeader), payload_bytes};
  reservation.end_position = reservation.start_position + *record_bytes;
  return std::optional<Reservation>{reservation};
}

Result<Reservation> RingWriter::reserve(RecordType type, std::uint64_t job_id,
                                        std::uint64_t payload_bytes, const SpinPolicy& policy,
                                        Clock::time_point deadline) noexcept {
  while (true) {
    auto attempt = try_reserve(type, job_id, payload_bytes);
    if (!attempt) return attempt.error();
    if (*attempt) return **attempt;
    // Wait until the consumer releases anything at all, then look again.
    const std::uint64_t seen = read_position_cache_;
    const auto outcome = wait_until(
        ring_.control->space_ready,
        [&] {
          return shared(ring_.control->read_position).load(std::memory_order_seq_cst) != seen;
        },
        policy, deadline);
    if (outcome == WaitOutcome::kTimedOut) {
      return make_error(ErrorCode::kTimeout,
                        "no room for a {}-byte record in the ring before the deadline: the "
                        "consumer released nothing",
                        payload_bytes);
    }
  }
}

void RingWriter::commit(const Reservation& reservation) noexcept {
  // A record that wraps starts at offset 0, behind the padding at write_offset_.
  const std::uint64_t record_offset = reservation.padding_bytes ? 0 : write_offset_;
  // The consumer looks at the padding first when there is one, so its commit goes last. The last
  // commit is seq_cst, not just release: it and the load of `parked` in ring() form the Dekker
  // pair that keeps a parked consumer from missing the record.
  if (reservation.padding_bytes) {
    shared(commit_word(at_offset(0)))
        .store(commit_tag(reservation.start_position, ring_.commit_key), std::memory_order_release);
    shared(commit_word(at_offset(write_offset_)))
        .store(commit_tag(write_position_, ring_.commit_key), std::memory_order_seq_cst);
  } else {
    shared(commit_word(at_offset(write_offset_)))
        .store(commit_tag(reservation.start_position, ring_.commit_key), std::memory_order_seq_cst);
  }
  write_offset_ = record_offset + (reservation.end_position - reservation.start_position);
  if (write_offset_ == ring_.capacity) write_offset_ = 0;
  write_position_ = reservation.end_position;
  shared(ring_.control->write_position).store(write_position_, std::memory_order_release);
  consumer_.ring();
}

std::uint64_t RingWriter::consumer_position() const noexcept {
  return shared(ring_.control->read_position).load(std::memory_order_seq_cst);
}

bool RingWriter::drained() const noexcept {
  return shared(ring_.control->read_position).load(std::memory_order_acquire) == write_position_;
}

// ---------------------------------------------------------------------------------------------
RingReader::RingReader(RingView ring, Doorbell producer) noexcept
    : ring_(ring), producer_(producer) {
  read_position_ = shared(ring_.control->read_position).load(std::memory_order_acquire);
  read_offset_ = read_position_ % ring_.capacity;
}

bool RingReader::has_data_hint() const noexcept {
  // seq_cst: wait_until's condition (see there).
  return shared(commit_word(ring_.data + read_offset_)).load(std::memory_order_seq_cst) ==
         commit_tag(read_position_, ring_.commit_key);
}

void RingReader::advance(std::uint64_t bytes) noexcept {
  read_position_ += bytes;
  read_offset_ += bytes;
  if (read_offset_ == ring_.capacity) read_offset_ = 0;
}

Result<std::optional<RecordView>> RingReader::try_peek() noexcept {
  while (true) {
    std::byte* at = ring_.data + read_offset_;
    if (shared(commit_word(at)).load(std::memory_order_acquire) !=
        commit_tag(read_position_, ring_.commit_key)) {
      return std::optional<RecordView>{};
    }
    const RecordHeader header = load_header(at);
    const std::uint64_t tail = ring_.capacity - read_offset_;
    if (!is_known_record_type(header.type)) {
      return make_error(ErrorCode::kCorrupt, "record at ring position {} has unknown type {}",
                        read_position_, header.type);
    }
    if (header.record_bytes < sizeof(header) || header.record_bytes % kRecordAlignment != 0 ||
        header.record_bytes > tail || header.payload_bytes > header.record_bytes - sizeof(header)) {
      return make_error(ErrorCode::kCorrupt,
                        "record at ring position {} claims {} bytes ({} payload) with {} before "
                        "the wrap",
                        read_position_, header.record_bytes, header.payload_bytes, tail);
    }
    const auto type = static_cast<RecordType>(header.type);
    if (type == RecordType::kPadding) {
      if (header.record_bytes != tail) {
        return make_error(ErrorCode::kCorrupt,
                          "padding record at ring position {} is {} bytes but the wrap is {} away",
                          read_position_, header.record_bytes, tail);
      }
      advance(tail);
      publish_read_position();
      continue;
    }
    return std::optional<RecordView>{RecordView{
        type, header.job_id, std::span<const std::byte>(at + sizeof(header), header.payload_bytes),
        read_position_ + header.record_bytes}};
  }
}

Result<RecordView> RingReader::peek(const SpinPolicy& policy, Clock::time_point deadline) noexcept {
  while (true) {
    auto record = try_peek();
    if (!record) return record.error();
    if (*record) return **record;
    if (wait_until(
            ring_.control->data_ready, [&] { return has_data_hint(); }, policy, deadline) ==
        WaitOutcome::kTimedOut) {
      return make_error(ErrorCode::kTimeout, "no record arrived before the deadline");
    }
  }
}

void RingReader::release(const RecordView& record) noexcept {
  advance(record.end_position - read_position_);
  publish_read_position();
}

void RingReader::publish_read_position() noexcept {
  // seq_cst: pairs with the producer's parked flag, as in RingWriter::commit().
  shared(ring_.control->read_position).store(read_position_, std::memory_order_seq_cst);
  producer_.ring();
}

}  // namespace infervisor::shm
