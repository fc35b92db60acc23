// Fuzzes both ends of a ring (shm/ring.hpp) against a broken or hostile peer that owns the other
// end: the fuzzer's bytes become the ring's indices and record area (ring_input.hpp), and keep
// rewriting them between the calls of the end under test.
//
//   consumer mode: RingReader::try_peek / release in a loop over the corrupted ring, each record
//                  decoded as the daemon or the worker would (shm/frame.hpp);
//   producer mode: RingWriter::try_reserve / commit while the consumer publishes read positions.
//
// The ring lives in process memory, sized exactly, so that ASan reports any access past its end.
// A kCorrupt error is the expected answer to bad bytes (the caller then stops using the ring); a
// crash, a sanitizer report, a record or a reservation outside the ring, or a producer writing
// over bytes the consumer has not released is a finding.
#include <cstdint>
#include <cstring>
#include <new>

#include "shm/frame.hpp"
#include "shm/ring.hpp"
#include "tests/fuzz/fuzz_check.hpp"
#include "tests/fuzz/ring_input.hpp"

namespace infervisor::shm::fuzz {
namespace {

// Far more than a ring of at most 64 slots holds records for: only a looping end reaches it.
constexpr int kMaxSteps = 512;

class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), left_(size) {}
  bool empty() const noexcept { return left_ == 0; }
  std::size_t left() const noexcept { return left_; }

  // Little-endian; missing bytes read as zero.
  std::uint64_t integer(std::size_t bytes) noexcept {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < bytes && left_ > 0; ++i, ++data_, --left_)
      value |= std::uint64_t{*data_} << (8 * i);
    return value;
  }

  // Copies up to `bytes` into `out`; returns how many there were.
  std::size_t copy(void* out, std::size_t bytes) noexcept {
    const std::size_t n = std::min(bytes, left_);
    if (n != 0) std::memcpy(out, data_, n);
    data_ += n;
    left_ -= n;
    return n;
  }

 private:
  const std::uint8_t* data_;
  std::size_t left_;
};

// One ring as a segment holds it: a control block and exactly `capacity` bytes of record area,
// 64-byte aligned.
class Ring {
 public:
  explicit Ring(std::uint64_t capacity)
      : capacity_(capacity), data_(static_cast<std::byte*>(::operator new(capacity, kAlignment))) {
    initialize_ring(control);
    std::memset(data_, 0, capacity);
  }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  ~Ring() { ::operator delete(data_, kAlignment); }

  RingView view() noexcept { return {&control, data_, capacity_, kCommitKey}; }
  std::byte* data() const noexcept { return data_; }
  std::uint64_t capacity() const noexcept { return capacity_; }
  std::uint64_t read_position() noexcept {
    return shared(control.read_position).load(std::memory_order_relaxed);
  }

  bool contains(std::span<const std::byte> part) const noexcept {
    return part.data() >= data_ && part.data() + part.size() <= data_ + capacity_;
  }

  // Turns the marker commit words (ring_input.hpp) in the slots touching [begin, end) into the
  // tags of records at those slots, as seen from the consumer's `read_position`.
  void stamp(std::uint64_t begin, std::uint64_t end, std::uint64_t read_position) noexcept {
    const std::uint64_t read_offset = read_position % capacity_;
    const std::uint64_t lap_start = read_position - read_offset;
    for (std::uint64_t slot = begin - begin % kRecordAlignment; slot < end;
         slot += kRecordAlignment) {
      auto word = shared(*reinterpret_cast<std::uint64_t*>(data_ + slot));
      const std::uint64_t marker = word.load(std::memory_order_relaxed);
      if (marker != kStampThisLap && marker != kStampLastLap) continue;
      // Slots behind the consumer belong to its next lap.
      std::uint64_t position = lap_start + slot + (slot < read_offset ? capacity_ : 0);
      if (marker == kStampLastLap) position -= capacity_;
      word.store(commit_tag(position, kCommitKey), std::memory_order_release);
    }
  }

  RingControl control{};

 private:
  static constexpr std::align_val_t kAlignment{kRecordAlignment};
  std::uint64_t capacity_;
  std::byte* data_;
};

// A peer's write between two of the consumer's calls.
void apply_write(Ring& ring, Input& in) {
  const std::uint64_t offset = in.integer(2) % ring.capacity();
  const std::size_t length = std::min<std::uint64_t>(in.integer(1), ring.capacity() - offset);
  const std::size_t written = in.copy(ring.data() + offset, length);
  ring.stamp(offset, offset + written, ring.read_position());
}

// Decodes a record's payload as its receiver would; the decoders' own invariants are the frame
// fuzzer's business, here it only matters that they stay inside the record.
void decode(const RecordView& record) {
  if (record.type == RecordType::kRequest || record.type == RecordType::kResponse) {
    if (const auto frame = decode_frame(record.payload, record.job_id)) {
      for (const auto& tensor : frame->tensors)
        fuzz_check(tensor.data.data() >= record.payload.data() &&
                   tensor.data.data() + tensor.data.size() <=
                       record.payload.data() + record.payload.size());
    }
  } else if (record.type == RecordType::kError) {
    (void)decode_error_payload(record.payload);
  }
}

void consume(Ring& ring, Input& in) {
  // Segment::open refuses a read position off the record grid (check_positions), and the reader
  // starts from it unchecked.
  ring.control.read_position &= ~std::uint64_t{kRecordAlignment - 1};
  ring.stamp(0, ring.capacity(), ring.read_position());
  RingReader reader(ring.view(), Doorbell{});  // no parked peer to wake: no system calls
  for (int step = 0; step < kMaxSteps; ++step) {
    const auto record = reader.try_peek();
    if (!record) {
      fuzz_check(record.error().code == ErrorCode::kCorrupt);
      return;
    }
    if (*record) {
      const RecordView& view = **record;
      // try_peek has published the record's start (past any padding).
      const std::uint64_t start = ring.read_position();
      const std::uint64_t bytes = view.end_position - start;
      fuzz_check(view.type != RecordType::kPadding &&
                 is_known_record_type(static_cast<std::uint32_t>(view.type)));
      fuzz_check(bytes >= sizeof(RecordHeader) && bytes <= ring.capacity() &&
                 bytes % kRecordAlignment == 0);
      fuzz_check(view.payload.size() <= bytes - sizeof(RecordHeader));
      fuzz_check(view.payload.data() ==
                 ring.data() + start % ring.capacity() + sizeof(RecordHeader));
      fuzz_check(ring.contains(view.payload));
      decode(view);
      reader.release(view);
      fuzz_check(ring.read_position() == view.end_position);
    } else if (in.empty()) {
      return;
    }
    if (!in.empty()) apply_write(ring, in);
  }
}

void produce(Ring& ring, Input& in) {
  auto& control = ring.control;
  control.read_position &= ~std::uint64_t{kRecordAlignment - 1};
  control.write_position &= ~std::uint64_t{kRecordAlignment - 1};
  // What Segment::open guarantees before a writer starts (check_positions).
  if (control.write_position < control.read_position ||
      control.write_position - control.read_position > ring.capacity()) {
    return;
  }
  RingWriter writer(ring.view(), Doorbell{});
  std::uint64_t written_up_to = control.write_position;
  for (std::uint64_t job = 1; job <= kMaxSteps && in.left() >= kProducerStepBytes; ++job) {
    shared(control.read_position).store(in.integer(8), std::memory_order_release);
    const std::uint64_t payload_bytes = in.integer(2);
    const auto reservation = writer.try_reserve(RecordType::kRequest, job, payload_bytes);
    if (!reservation) {
      const auto code = reservation.error().code;
      fuzz_check(code == ErrorCode::kCorrupt || code == ErrorCode::kTooLarge);
      if (code == ErrorCode::kCorrupt) return;
      continue;
    }
    if (!*reservation) continue;
    const Reservation& room = **reservation;
    fuzz_check(room.payload.size() == payload_bytes && ring.contains(room.payload));
    fuzz_check((room.payload.data() - ring.data()) % kRecordAlignment ==
               sizeof(RecordHeader) % kRecordAlignment);
    // Only bytes the consumer has released, as far as the writer knows, are reused.
    fuzz_check(room.start_position - room.padding_bytes >= written_up_to);
    fuzz_check(room.end_position - writer.consumer_position_seen() <= ring.capacity());
    std::memset(room.payload.data(), 0xa5, room.payload.size());
    writer.commit(room);
    written_up_to = room.end_position;
  }
}

}  // namespace
}  // namespace infervisor::shm::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace infervisor::shm::fuzz;
  if (size == 0) return -1;
  Input in(data, size);
  const auto mode = static_cast<std::uint8_t>(in.integer(1));
  Ring ring(capacity_from(mode));
  ring.control.read_position = in.integer(8);
  ring.control.write_position = in.integer(8);
  in.copy(ring.data(), ring.capacity());
  if (mode & kProducerMode)
    produce(ring, in);
  else
    consume(ring, in);
  return 0;
}
