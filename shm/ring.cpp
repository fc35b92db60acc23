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

void write_header(std::byte* at, RecordType type, std::uint64_t job_id, std::uint64_t payload_bytes,
                  std::uint64_t record_bytes) noexcept {
  RecordHeader header{};
  header.type = static_cast<std::uint32_t>(type);
  header.job_id = job_id;
  header.payload_bytes = payload_bytes;
  header.record_bytes = record_bytes;
  std::memcpy(at, &header, sizeof(header));
}

}  // namespace

void initialize_ring(RingControl& control) noexcept {
  std::memset(static_cast<void*>(&control), 0, sizeof(control));
}

// ---------------------------------------------------------------------------------------------
RingWriter::RingWriter(RingView ring, Doorbell consumer) noexcept
    : ring_(ring), consumer_(consumer) {
  write_position_ = shared(ring_.control->write_position).load(std::memory_order_acquire);
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
  const std::uint64_t offset = write_position_ % ring_.capacity;
  const std::uint64_t tail = ring_.capacity - offset;
  const bool wraps = *record_bytes > tail;
  const std::uint64_t needed = wraps ? tail + *record_bytes : *record_bytes;

  auto free = free_bytes(false);
  if (free && *free < needed) free = free_bytes(true);
  if (!free) return free.error();

  if (wraps && needed > ring_.capacity) {
    // The record fits only once the consumer has passed the wrap: publish the padding alone so
    // that it skips it, and let the caller try again when it has.
    if (*free >= tail) {
      write_header(ring_.data + offset, RecordType::kPadding, 0, 0, tail);
      commit(Reservation{{}, write_position_ + tail});
    }
    return std::optional<Reservation>{};
  }
  if (*free < needed) return std::optional<Reservation>{};
  std::uint64_t start = write_position_;
  if (wraps) {
    // Published together with the record by commit(): the consumer never sees one without the
    // other.
    write_header(ring_.data + offset, RecordType::kPadding, 0, 0, tail);
    start += tail;
  }
  std::byte* at = ring_.data + start % ring_.capacity;
  write_header(at, type, job_id, payload_bytes, *record_bytes);
  return std::optional<Reservation>{
      Reservation{{at + sizeof(RecordHeader), payload_bytes}, start + *record_bytes}};
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
  write_position_ = reservation.end_position;
  // seq_cst, not just release: this store and the load of `parked` in ring() form the Dekker pair
  // that keeps a parked consumer from missing the record.
  shared(ring_.control->write_position).store(write_position_, std::memory_order_seq_cst);
  consumer_.ring();
}

bool RingWriter::drained() const noexcept {
  return shared(ring_.control->read_position).load(std::memory_order_acquire) == write_position_;
}

// ---------------------------------------------------------------------------------------------
RingReader::RingReader(RingView ring, Doorbell producer) noexcept
    : ring_(ring), producer_(producer) {
  read_position_ = shared(ring_.control->read_position).load(std::memory_order_acquire);
  write_position_cache_ = read_position_;
}

bool RingReader::has_data_hint() const noexcept {
  // seq_cst: wait_until's condition (see there).
  return shared(ring_.control->write_position).load(std::memory_order_seq_cst) != read_position_;
}

Result<std::optional<RecordView>> RingReader::try_peek() noexcept {
  while (true) {
    if (read_position_ == write_position_cache_) {
      const std::uint64_t written =
          shared(ring_.control->write_position).load(std::memory_order_acquire);
      if (written < read_position_ || written - read_position_ > ring_.capacity) {
        return make_error(ErrorCode::kCorrupt,
                          "ring write position {} is outside [{}, {}]: the producer corrupted it",
                          written, read_position_, read_position_ + ring_.capacity);
      }
      write_position_cache_ = written;
      if (written == read_position_) return std::optional<RecordView>{};
    }
    const std::uint64_t offset = read_position_ % ring_.capacity;
    const std::uint64_t tail = ring_.capacity - offset;
    const std::uint64_t available = write_position_cache_ - read_position_;
    // Copied out first: the checks below must judge the same bytes that are then used.
    RecordHeader header;
    if (available < sizeof(header)) {
      return make_error(ErrorCode::kCorrupt, "ring holds {} bytes, less than a record header",
                        available);
    }
    std::memcpy(&header, ring_.data + offset, sizeof(header));
    if (!is_known_record_type(header.type)) {
      return make_error(ErrorCode::kCorrupt, "record at ring position {} has unknown type {}",
                        read_position_, header.type);
    }
    if (header.record_bytes < sizeof(header) || header.record_bytes % kRecordAlignment != 0 ||
        header.record_bytes > tail || header.record_bytes > available ||
        header.payload_bytes > header.record_bytes - sizeof(header)) {
      return make_error(ErrorCode::kCorrupt,
                        "record at ring position {} claims {} bytes ({} payload) with {} "
                        "published and {} before the wrap",
                        read_position_, header.record_bytes, header.payload_bytes, available, tail);
    }
    const auto type = static_cast<RecordType>(header.type);
    if (type == RecordType::kPadding) {
      if (header.record_bytes != tail) {
        return make_error(ErrorCode::kCorrupt,
                          "padding record at ring position {} is {} bytes but the wrap is {} away",
                          read_position_, header.record_bytes, tail);
      }
      read_position_ += tail;
      publish_read_position(read_position_);
      continue;
    }
    return std::optional<RecordView>{RecordView{
        type, header.job_id,
        std::span<const std::byte>(ring_.data + offset + sizeof(header), header.payload_bytes),
        read_position_ + header.record_bytes}};
  }
}

Result<RecordView> RingReader::peek(const SpinPolicy& policy, Clock::time_point deadline) noexcept {
  while (true) {
    auto record = try_peek();
    if (!record) return record.error();
    if (*record) return **record;
    if (wait_until(ring_.control->data_ready, [&] { return has_data_hint(); }, policy, deadline) ==
        WaitOutcome::kTimedOut) {
      return make_error(ErrorCode::kTimeout, "no record arrived before the deadline");
    }
  }
}

void RingReader::release(const RecordView& record) noexcept {
  read_position_ = record.end_position;
  publish_read_position(read_position_);
}

void RingReader::publish_read_position(std::uint64_t position) noexcept {
  // seq_cst: pairs with the producer's parked flag, as in RingWriter::commit().
  shared(ring_.control->read_position).store(position, std::memory_order_seq_cst);
  producer_.ring();
}

}  // namespace infervisor::shm
