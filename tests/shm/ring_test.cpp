// RingWriter and RingReader in one process: record boundaries, the wrap and its padding, a full
// ring, the largest record, bounded waits, two threads streaming through one ring, and every index
// or record header a corrupting peer could publish.
#include "shm/ring.hpp"

#include <gtest/gtest.h>
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <limits>
#include <thread>

#include "common/unique_fd.hpp"
#include "shm/segment.hpp"
#include "tests/shm/shm_fixture.hpp"
#include "tests/shm/test_message.hpp"

namespace infervisor::shm {
namespace {
using testing::check_message;
using testing::fill_message;
using testing::MessageSizes;
using testing::Random;
using testing::ShmFixture;

constexpr std::uint64_t kCapacity = kMinRingBytes;

std::uint64_t record_bytes(std::uint64_t payload_bytes) {
  return (sizeof(RecordHeader) + payload_bytes + kRecordAlignment - 1) & ~(kRecordAlignment - 1);
}

Clock::time_point in(std::chrono::milliseconds delay) {
  return Clock::now() + delay;
}

// One ring's two ends, as the supervisor and a worker would hold them.
struct RingEnds {
  explicit RingEnds(RingView ring)
      : writer(ring, Doorbell(&ring.control->data_ready, -1)),
        reader(ring, Doorbell(&ring.control->space_ready, -1)) {}
  RingWriter writer;
  RingReader reader;
};

class Ring_test : public ShmFixture {
 protected:
  Ring_test()
      : ShmFixture("ivt-ring"),
        segment_(Segment::create(prefix(), {kCapacity, kCapacity}, 1).value()),
        // The response ring ends the mapping, so a read past its end faults instead of passing.
        ring_(segment_.response_ring()),
        sut(ring_) {}

  // Reserves and commits `bytes` of `fill`, which must fit now.
  void send(std::uint64_t job_id, std::uint64_t bytes, std::byte fill = std::byte{0xab}) {
    auto reservation = sut.writer.try_reserve(RecordType::kRequest, job_id, bytes);
    ASSERT_TRUE(reservation) << reservation.error().message;
    ASSERT_TRUE(*reservation) << "no room for " << bytes << " bytes";
    ASSERT_EQ((*reservation)->payload.size(), bytes);
    std::memset((*reservation)->payload.data(), std::to_integer<int>(fill), bytes);
    sut.writer.commit(**reservation);
  }

  // Peeks the next record, which must be there, and checks it against what send() wrote.
  RecordView receive(std::uint64_t job_id, std::uint64_t bytes, std::byte fill = std::byte{0xab}) {
    auto record = sut.reader.try_peek();
    EXPECT_TRUE(record) << record.error().message;
    if (!record || !*record) {
      ADD_FAILURE() << "no record for job " << job_id;
      return {};
    }
    EXPECT_EQ((*record)->type, RecordType::kRequest);
    EXPECT_EQ((*record)->job_id, job_id);
    EXPECT_EQ((*record)->payload.size(), bytes);
    for (const std::byte b : (*record)->payload) {
      if (b != fill) {
        ADD_FAILURE() << "payload of job " << job_id << " changed";
        break;
      }
    }
    return **record;
  }

  Segment segment_;
  RingView ring_;
  RingEnds sut;
};

TEST_F(Ring_test, EmptyRingHasNothing) {
  const auto record = sut.reader.try_peek();
  ASSERT_TRUE(record) << record.error().message;
  EXPECT_FALSE(*record);
  EXPECT_FALSE(sut.reader.has_data_hint());
  EXPECT_TRUE(sut.writer.drained());
  EXPECT_EQ(sut.writer.max_payload_bytes(), kCapacity - sizeof(RecordHeader));
}

TEST_F(Ring_test, RecordKeepsItsTypeJobAndBytes) {
  for (const auto type : {RecordType::kRequest, RecordType::kResponse, RecordType::kError,
                          RecordType::kShutdown, RecordType::kShutdownAck, RecordType::kReady}) {
    const std::uint64_t job_id = 1000 + static_cast<std::uint64_t>(type);
    auto reservation = sut.writer.try_reserve(type, job_id, 3);
    ASSERT_TRUE(reservation && *reservation);
    std::memcpy((*reservation)->payload.data(), "abc", 3);
    sut.writer.commit(**reservation);
    EXPECT_TRUE(sut.reader.has_data_hint());
    EXPECT_FALSE(sut.writer.drained());

    const auto record = sut.reader.try_peek();
    ASSERT_TRUE(record && *record);
    EXPECT_EQ((*record)->type, type) << record_type_name(type);
    EXPECT_EQ((*record)->job_id, job_id);
    ASSERT_EQ((*record)->payload.size(), 3u);
    EXPECT_EQ(std::memcmp((*record)->payload.data(), "abc", 3), 0);
    // Payloads keep the record alignment, so tensors in them are aligned in memory.
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>((*record)->payload.data()) % kRecordAlignment, 0u);
    sut.reader.release(**record);
    EXPECT_TRUE(sut.writer.drained());
  }
}

TEST_F(Ring_test, PeekReturnsTheSameRecordUntilReleased) {
  send(1, 10);
  send(2, 20);
  const auto first = receive(1, 10);
  const auto again = receive(1, 10);
  EXPECT_EQ(first.payload.data(), again.payload.data());
  EXPECT_EQ(first.end_position, again.end_position);
  sut.reader.release(again);
  sut.reader.release(receive(2, 20));
  EXPECT_TRUE(sut.writer.drained());
}

TEST_F(Ring_test, EmptyPayloadIsARecord) {
  send(5, 0);
  const auto record = receive(5, 0);
  EXPECT_EQ(record.end_position, sizeof(RecordHeader));
  sut.reader.release(record);
}

TEST_F(Ring_test, ManyWrapsSkipEveryPadding) {
  Random random(42);
  std::uint64_t next_to_send = 0;
  std::uint64_t next_to_receive = 0;
  std::uint64_t previous_end = 0;
  std::uint64_t paddings = 0;
  std::vector<std::uint64_t> sizes;  // by job id
  constexpr std::uint64_t kRecords = 20000;
  while (next_to_receive < kRecords) {
    // Fill until the ring says "not now", then drain a random part: the lag between the two ends
    // changes all the time, so records meet the wrap at every offset.
    while (next_to_send < kRecords) {
      const std::uint64_t bytes = random.below(6000);
      auto reservation = sut.writer.try_reserve(RecordType::kRequest, next_to_send, bytes);
      ASSERT_TRUE(reservation) << reservation.error().message;
      if (!*reservation) break;
      std::memset((*reservation)->payload.data(), static_cast<int>(next_to_send & 0xff), bytes);
      sut.writer.commit(**reservation);
      sizes.push_back(bytes);
      ++next_to_send;
    }
    for (auto n = random.below(20) + 1; n > 0 && next_to_receive < next_to_send; --n) {
      const auto fill = static_cast<std::byte>(next_to_receive & 0xff);
      const auto record = receive(next_to_receive, sizes[next_to_receive], fill);
      ASSERT_FALSE(::testing::Test::HasFailure());
      const std::uint64_t start = record.end_position - record_bytes(sizes[next_to_receive]);
      if (start != previous_end) {
        // Skipped padding, which must have run exactly to the wrap.
        EXPECT_EQ(start % kCapacity, 0u) << "record " << next_to_receive;
        EXPECT_EQ(start / kCapacity, previous_end / kCapacity + 1);
        ++paddings;
      }
      EXPECT_LE(record.end_position - start, kCapacity);
      previous_end = record.end_position;
      sut.reader.release(record);
      ++next_to_receive;
    }
  }
  EXPECT_TRUE(sut.writer.drained());
  EXPECT_GT(previous_end / kCapacity, 500u) << "too few wraps to mean anything";
  EXPECT_GT(paddings, 100u);
}

TEST_F(Ring_test, FullRingSaysNotNowUntilARelease) {
  // 64 records of exactly 1 KiB fill the ring to the last byte.
  constexpr std::uint64_t kPayload = 1024 - sizeof(RecordHeader);
  for (std::uint64_t job = 0; job < kCapacity / 1024; ++job)
    send(job, kPayload);
  const auto full = sut.writer.try_reserve(RecordType::kRequest, 99, 0);
  ASSERT_TRUE(full) << "a full ring is not an error: " << full.error().message;
  EXPECT_FALSE(*full);

  sut.reader.release(receive(0, kPayload));
  // Exactly one record's room again, and not a byte more.
  send(64, kPayload, std::byte{0xcd});
  const auto again = sut.writer.try_reserve(RecordType::kRequest, 99, 0);
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
  // Nothing unread was overwritten.
  for (std::uint64_t job = 1; job < kCapacity / 1024; ++job) {
    sut.reader.release(receive(job, kPayload));
  }
  sut.reader.release(receive(64, kPayload, std::byte{0xcd}));
  EXPECT_TRUE(sut.writer.drained());
}

TEST_F(Ring_test, LargestRecordFitsAndOneMoreByteIsTooLarge) {
  const std::uint64_t largest = sut.writer.max_payload_bytes();
  ASSERT_EQ(largest, max_payload_bytes(kCapacity));
  send(1, largest);
  const auto record = receive(1, largest);
  EXPECT_EQ(record.end_position, kCapacity);
  sut.reader.release(record);

  constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
  for (const std::uint64_t too_large : {largest + 1, kCapacity, kMax - 100, kMax}) {
    const auto refused = sut.writer.try_reserve(RecordType::kRequest, 2, too_large);
    ASSERT_FALSE(refused) << too_large << " bytes";
    EXPECT_EQ(refused.error().code, ErrorCode::kTooLarge);
    const auto waited = sut.writer.reserve(RecordType::kRequest, 2, too_large, {}, in({}));
    ASSERT_FALSE(waited);
    EXPECT_EQ(waited.error().code, ErrorCode::kTooLarge) << "reserve() must not wait for it";
  }
}

TEST_F(Ring_test, LargestRecordAfterTheStartWaitsForTheWrap) {
  send(1, 100);
  sut.reader.release(receive(1, 100));
  const std::uint64_t largest = sut.writer.max_payload_bytes();
  // It fits only from offset 0: the writer publishes padding to the wrap and says "not now".
  auto first = sut.writer.try_reserve(RecordType::kRequest, 2, largest);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_FALSE(*first);
  EXPECT_TRUE(sut.reader.has_data_hint());
  // The reader skips the padding on its own and finds nothing else.
  const auto padding_only = sut.reader.try_peek();
  ASSERT_TRUE(padding_only) << padding_only.error().message;
  EXPECT_FALSE(*padding_only);
  EXPECT_TRUE(sut.writer.drained());

  send(2, largest);
  const auto record = receive(2, largest);
  EXPECT_EQ(record.end_position, 2 * kCapacity);
  sut.reader.release(record);
}

TEST_F(Ring_test, PeekOnAnEmptyRingTimesOut) {
  const auto deadline = in(std::chrono::milliseconds(20));
  const auto record = sut.reader.peek({}, deadline);
  ASSERT_FALSE(record);
  EXPECT_EQ(record.error().code, ErrorCode::kTimeout);
  EXPECT_GE(Clock::now(), deadline) << "gave up before its deadline";
  // With no spinning at all: parks at once, and still comes back.
  const auto parked = sut.reader.peek({std::chrono::nanoseconds::zero()}, in({}));
  ASSERT_FALSE(parked);
  EXPECT_EQ(parked.error().code, ErrorCode::kTimeout);
}

TEST_F(Ring_test, ReserveOnAFullRingTimesOut) {
  send(1, sut.writer.max_payload_bytes());
  const auto deadline = in(std::chrono::milliseconds(20));
  const auto reservation = sut.writer.reserve(RecordType::kRequest, 2, 0, {}, deadline);
  ASSERT_FALSE(reservation);
  EXPECT_EQ(reservation.error().code, ErrorCode::kTimeout);
  EXPECT_GE(Clock::now(), deadline) << "gave up before its deadline";
}

// Two threads, one ring: the memory-ordering contract, checked by the payloads arriving intact
// (and, in a TSan build, by TSan). The waits park at once (spin 0) or spin first (the default). A
// single park may last longer than the whole deadline, so a lost wake-up shows as kTimeout instead
// of hiding behind a periodic re-check. (If the reader fails, the writer gives up at the deadline.)
class Ring_threads_test : public Ring_test,
                          public ::testing::WithParamInterface<std::chrono::nanoseconds> {};

TEST_P(Ring_threads_test, StreamArrivesIntactAndInOrder) {
  constexpr std::uint64_t kMessages = 50000;
  const SpinPolicy policy{GetParam(), std::chrono::hours(1)};
  const auto deadline = in(std::chrono::seconds(120));
  std::string writer_error;
  std::jthread writer([&] {
    MessageSizes sizes(7, kCapacity / 3);
    Random body(8);
    for (std::uint64_t sequence = 0; sequence < kMessages; ++sequence) {
      auto reservation =
          sut.writer.reserve(RecordType::kRequest, sequence, sizes.next(), policy, deadline);
      if (!reservation) {
        writer_error = reservation.error().message;
        return;
      }
      fill_message(reservation->payload, sequence, body);
      sut.writer.commit(*reservation);
    }
  });
  for (std::uint64_t sequence = 0; sequence < kMessages; ++sequence) {
    const auto record = sut.reader.peek(policy, deadline);
    ASSERT_TRUE(record) << "message " << sequence << ": " << record.error().message;
    const auto wrong = check_message(record->job_id, record->payload, sequence);
    ASSERT_TRUE(wrong.empty()) << wrong;
    sut.reader.release(*record);
  }
  writer.join();
  EXPECT_EQ(writer_error, "");
  EXPECT_TRUE(sut.writer.drained());
}

INSTANTIATE_TEST_SUITE_P(SpinOrPark, Ring_threads_test,
                         ::testing::Values(std::chrono::nanoseconds::zero(), SpinPolicy{}.spin),
                         [](const auto& info) {
                           return info.param.count() == 0 ? std::string("AlwaysPark")
                                                          : std::string("SpinThenPark");
                         });

// ---------------------------------------------------------------------------------------------
// A peer that corrupts the ring: whatever it publishes, the other end gets kCorrupt, never a
// crash, a hang or a record outside the ring.

// Writes `header` at `position` and commits it there, as a producer would.
void publish_header(RingView ring, std::uint64_t position, RecordHeader header) {
  header.commit = commit_tag(position, ring.commit_key);
  std::memcpy(ring.data + position % ring.capacity, &header, sizeof(header));
}

RecordHeader header_of(RecordType type, std::uint64_t payload_bytes, std::uint64_t record_bytes) {
  RecordHeader header{};
  header.type = static_cast<std::uint32_t>(type);
  header.payload_bytes = payload_bytes;
  header.record_bytes = record_bytes;
  return header;
}

struct BadRecord {
  const char* name;
  std::uint64_t read_position;  // where the reader stands when it looks
  std::function<void(RingView ring, std::uint64_t read_position)> publish;
  const char* says;
};

void PrintTo(const BadRecord& bad, std::ostream* out) {
  *out << bad.name;
}

class Ring_corrupt_record_test : public Ring_test,
                                 public ::testing::WithParamInterface<BadRecord> {};

TEST_P(Ring_corrupt_record_test, ReaderRefusesIt) {
  const BadRecord& bad = GetParam();
  shared(ring_.control->read_position).store(bad.read_position);
  RingReader reader(ring_, Doorbell(&ring_.control->space_ready, -1));
  bad.publish(ring_, bad.read_position);
  for (int attempt = 0; attempt < 2; ++attempt) {
    const auto record = reader.try_peek();
    ASSERT_FALSE(record) << "accepted it, or saw an empty ring";
    EXPECT_EQ(record.error().code, ErrorCode::kCorrupt);
    EXPECT_NE(record.error().message.find(bad.says), std::string::npos) << record.error().message;
  }
  const auto waited = reader.peek({}, in(std::chrono::seconds(10)));
  ASSERT_FALSE(waited);
  EXPECT_EQ(waited.error().code, ErrorCode::kCorrupt) << "peek() must not wait on a corrupt ring";
}

// One bad record header at `position`, committed there.
BadRecord bad_header(const char* name, std::uint64_t position, RecordHeader header,
                     const char* says) {
  return {name, position,
          [header](RingView ring, std::uint64_t at) { publish_header(ring, at, header); }, says};
}

constexpr std::uint64_t kMiddle = 3 * kCapacity + 4096;  // three wraps in, mid-ring
constexpr std::uint64_t kNearEnd = 5 * kCapacity - 128;  // two records before the wrap

RecordHeader with_type(std::uint32_t type) {
  auto header = header_of(RecordType::kRequest, 0, 64);
  header.type = type;
  return header;
}

const BadRecord kBadRecords[] = {
    bad_header("type_zero", kMiddle, with_type(0), "unknown type"),
    bad_header("type_past_the_last", kMiddle, with_type(9), "unknown type"),
    bad_header("type_all_ones", kMiddle, with_type(0xffffffff), "unknown type"),
    bad_header("record_bytes_zero", kMiddle, header_of(RecordType::kRequest, 0, 0), "claims"),
    bad_header("record_bytes_below_header", kMiddle, header_of(RecordType::kRequest, 0, 32),
               "claims"),
    bad_header("record_bytes_unaligned", kMiddle, header_of(RecordType::kRequest, 10, 100),
               "claims"),
    bad_header("record_bytes_beyond_ring", kMiddle,
               header_of(RecordType::kRequest, 100, 2 * kCapacity), "claims"),
    bad_header("record_bytes_overflowing", kMiddle,
               header_of(RecordType::kRequest, 0, std::numeric_limits<std::uint64_t>::max() - 63),
               "claims"),
    bad_header("record_across_the_wrap", kNearEnd, header_of(RecordType::kRequest, 100, 256),
               "claims"),
    bad_header("payload_beyond_record", kMiddle, header_of(RecordType::kRequest, 65, 128),
               "claims"),
    bad_header("payload_huge", kMiddle,
               header_of(RecordType::kRequest, std::numeric_limits<std::uint64_t>::max(), 128),
               "claims"),
    bad_header("padding_short_of_the_wrap", kMiddle, header_of(RecordType::kPadding, 0, 64),
               "padding"),
    bad_header("padding_past_the_wrap", kNearEnd, header_of(RecordType::kPadding, 0, 256),
               "claims"),
};

INSTANTIATE_TEST_SUITE_P(EveryField, Ring_corrupt_record_test, ::testing::ValuesIn(kBadRecords),
                         [](const auto& info) { return std::string(info.param.name); });

// A record exists only once its commit word holds commit_tag(its position): a producer killed
// before that store, a record left from an earlier lap, or tensor bytes that happen to sit where
// the next header goes are all an empty ring to the reader, never a record.
TEST_F(Ring_test, ReaderSeesNothingThatIsNotCommittedForItsPosition) {
  constexpr std::uint64_t kAt = kMiddle;
  shared(ring_.control->read_position).store(kAt);
  RingReader reader(ring_, Doorbell(&ring_.control->space_ready, -1));
  auto header = header_of(RecordType::kRequest, 8, 128);
  const std::uint64_t key = ring_.commit_key;
  const std::uint64_t not_ours[] = {0,
                                    commit_tag(kAt - kCapacity, key),
                                    commit_tag(kAt + kCapacity, key),
                                    kAt,
                                    kAt + 1,
                                    commit_tag(kAt, key) ^ 1,
                                    commit_tag(kAt, 0),  // what a client could compute
                                    commit_tag(kAt, key + 1)};
  for (const std::uint64_t commit : not_ours) {
    header.commit = commit;
    std::memcpy(ring_.data + kAt % kCapacity, &header, sizeof(header));
    const auto record = reader.try_peek();
    ASSERT_TRUE(record) << record.error().message;
    EXPECT_FALSE(*record) << "commit word " << commit << " passed for a record";
    EXPECT_FALSE(reader.has_data_hint());
  }
  header.commit = commit_tag(kAt, key);
  std::memcpy(ring_.data + kAt % kCapacity, &header, sizeof(header));
  const auto record = reader.try_peek();
  ASSERT_TRUE(record && *record);
  EXPECT_EQ((*record)->payload.size(), 8u);
  EXPECT_EQ((*record)->end_position, kAt + 128);
}

// Counts this thread's accesses to a few bytes of memory with a hardware watchpoint (a perf
// event), so a test can tell how many times the code under test fetched a field.
class AccessCounter {
 public:
  // nullopt (and `why` set) where the kernel or the machine refuses watchpoints.
  static std::optional<AccessCounter> watch(const void* address, std::size_t bytes,
                                            std::string& why) {
    perf_event_attr attr{};
    attr.type = PERF_TYPE_BREAKPOINT;
    attr.size = sizeof(attr);
    attr.bp_type = HW_BREAKPOINT_RW;  // x86 cannot watch reads alone; nothing here writes
    attr.bp_addr = reinterpret_cast<std::uint64_t>(address);
    attr.bp_len = bytes;
    attr.disabled = 1;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    const int fd = static_cast<int>(::syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
    if (fd < 0) {
      why = fmt::format("no hardware watchpoint: perf_event_open: {}", std::strerror(errno));
      return std::nullopt;
    }
    return AccessCounter(UniqueFd(fd));
  }

  void start() const {
    ::ioctl(fd_.get(), PERF_EVENT_IOC_RESET, 0);
    ::ioctl(fd_.get(), PERF_EVENT_IOC_ENABLE, 0);
  }
  std::uint64_t stop() const {
    ::ioctl(fd_.get(), PERF_EVENT_IOC_DISABLE, 0);
    std::uint64_t count = 0;
    EXPECT_EQ(::read(fd_.get(), &count, sizeof(count)), static_cast<ssize_t>(sizeof(count)));
    return count;
  }

 private:
  explicit AccessCounter(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// The reader must fetch each header field exactly once per look, then judge and use that copy: a
// field fetched again after its check can differ from what was checked if the peer rewrote it
// meanwhile (a double fetch). Counted with a watchpoint, so the count is exact and needs no
// second thread to be lucky.
TEST_F(Ring_test, ReaderFetchesEachHeaderFieldOncePerLook) {
  constexpr std::uint64_t kAt = kMiddle;
  shared(ring_.control->read_position).store(kAt);
  RingReader reader(ring_, Doorbell(&ring_.control->space_ready, -1));
  publish_header(ring_, kAt, header_of(RecordType::kRequest, 8, 128));
  const auto& header = *reinterpret_cast<const RecordHeader*>(ring_.data + kAt % kCapacity);
  const struct {
    const char* name;
    const void* address;
    std::size_t bytes;
  } fields[] = {{"type", &header.type, sizeof(header.type)},
                {"job_id", &header.job_id, sizeof(header.job_id)},
                {"payload_bytes", &header.payload_bytes, sizeof(header.payload_bytes)},
                {"record_bytes", &header.record_bytes, sizeof(header.record_bytes)}};
  for (const auto& field : fields) {
    std::string why;
    const auto counter = AccessCounter::watch(field.address, field.bytes, why);
    if (!counter) GTEST_SKIP() << why;
    counter->start();
    const auto record = reader.try_peek();
    const std::uint64_t fetches = counter->stop();
    ASSERT_TRUE(record && *record);
    EXPECT_EQ((*record)->payload.size(), 8u);
    EXPECT_EQ(fetches, 1u) << "the reader fetched " << field.name << " " << fetches << " times";
  }
}

// A peer that rewrites a committed record's header while the reader looks at it, flipping its
// sizes between a valid record and absurd ones. The reader may refuse the record or accept it,
// but what it accepts must be what it checked: the one valid header. Under TSan, a reader that
// copies the header with plain loads fails here (each load races with the peer's stores, whether
// or not the compiler fetched a field twice this time); elsewhere a double fetch is caught only
// when the two threads really run at once, which ReaderFetchesEachHeaderFieldOncePerLook does not
// need.
TEST_F(Ring_test, AHeaderRewrittenWhileItIsReadIsJudgedAndUsedFromOneCopy) {
  constexpr std::uint64_t kAt = kMiddle;
  constexpr std::uint64_t kPayload = 8;
  constexpr std::uint64_t kRecord = 128;
  constexpr std::uint64_t kAbsurd = std::uint64_t{1} << 40;
  shared(ring_.control->read_position).store(kAt);
  RingReader reader(ring_, Doorbell(&ring_.control->space_ready, -1));
  publish_header(ring_, kAt, header_of(RecordType::kRequest, kPayload, kRecord));
  auto& header = *reinterpret_cast<RecordHeader*>(ring_.data + kAt % kCapacity);

  // Stopped and joined when the test leaves, by an ASSERT too.
  std::jthread peer([&](const std::stop_token& stop) {
    for (std::uint64_t round = 0; !stop.stop_requested(); ++round) {
      const bool absurd = round % 2 == 1;
      shared(header.payload_bytes).store(absurd ? kAbsurd : kPayload, std::memory_order_relaxed);
      shared(header.record_bytes).store(absurd ? kAbsurd : kRecord, std::memory_order_relaxed);
      shared(header.job_id).store(absurd ? 0 : round, std::memory_order_relaxed);
    }
  });
  // Until the reader has seen both kinds often, so the peer has really written meanwhile; the
  // clock is only a guard against a peer thread that never gets to run.
  constexpr int kEnough = 2000;
  int accepted = 0;
  int refused = 0;
  const auto guard = Clock::now() + std::chrono::seconds(120);
  while ((accepted < kEnough || refused < kEnough) && Clock::now() < guard) {
    const auto record = reader.try_peek();
    if (!record) {
      ASSERT_EQ(record.error().code, ErrorCode::kCorrupt) << record.error().message;
      ++refused;
      continue;
    }
    ASSERT_TRUE(*record) << "the commit word never changes: the record must stay visible";
    const RecordView& view = **record;
    ++accepted;
    ASSERT_EQ(view.type, RecordType::kRequest);
    ASSERT_EQ(view.payload.size(), kPayload) << "a payload size other than the one checked";
    ASSERT_EQ(view.end_position, kAt + kRecord) << "a record size other than the one checked";
    ASSERT_EQ(view.payload.data(), ring_.data + kAt % kCapacity + sizeof(RecordHeader));
  }
  EXPECT_GE(accepted, kEnough);
  EXPECT_GE(refused, kEnough);
}

TEST(CommitTag_test, NeverZeroAndDifferentForEveryLap) {
  for (const std::uint64_t key : {std::uint64_t{0}, std::uint64_t{0x5eed5eed5eed5eed}}) {
    for (std::uint64_t position = 0; position < (1u << 20); position += 64) {
      EXPECT_NE(commit_tag(position, key), 0u);
      EXPECT_NE(commit_tag(position, key), commit_tag(position + (64u << 10), key));
      EXPECT_NE(commit_tag(position, key), position + 1);
    }
  }
}

TEST_F(Ring_test, EveryRingHasItsOwnRandomCommitKey) {
  const auto other = Segment::create(prefix(), {kCapacity, kCapacity}, 2).value();
  const std::uint64_t keys[] = {ring_.commit_key, segment_.request_ring().commit_key,
                                other.request_ring().commit_key, other.response_ring().commit_key};
  for (std::size_t i = 0; i < 4; ++i) {
    for (std::size_t j = i + 1; j < 4; ++j)
      EXPECT_NE(keys[i], keys[j]);
  }
  // Both ends see the creator's key.
  const auto opened = Segment::open(segment_.name(), {1, static_cast<pid_t>(::getpid())}).value();
  EXPECT_EQ(opened.response_ring().commit_key, ring_.commit_key);
}

TEST_F(Ring_test, ReaderRefusesPaddingThatIsLaterCorrupted) {
  // Padding the writer published correctly, followed by a record whose header is then trashed.
  send(1, 100);
  sut.reader.release(receive(1, 100));
  ASSERT_TRUE(sut.writer.try_reserve(RecordType::kRequest, 2, sut.writer.max_payload_bytes()));
  publish_header(ring_, record_bytes(100), header_of(RecordType::kPadding, 0, 64));
  const auto record = sut.reader.try_peek();
  ASSERT_FALSE(record);
  EXPECT_EQ(record.error().code, ErrorCode::kCorrupt);
}

TEST_F(Ring_test, WriterRefusesAReadPositionAheadOfItsWrites) {
  send(1, kCapacity / 2);
  // The writer looks at the reader's index only when its cached view says the ring is too full.
  shared(ring_.control->read_position).store(kCapacity);
  const auto reservation = sut.writer.try_reserve(RecordType::kRequest, 2, kCapacity / 2);
  ASSERT_FALSE(reservation);
  EXPECT_EQ(reservation.error().code, ErrorCode::kCorrupt);
  const auto waited =
      sut.writer.reserve(RecordType::kRequest, 2, kCapacity / 2, {}, in(std::chrono::seconds(10)));
  ASSERT_FALSE(waited);
  EXPECT_EQ(waited.error().code, ErrorCode::kCorrupt) << "reserve() must not wait on it";
}

TEST_F(Ring_test, WriterRefusesAReadPositionGoingBack) {
  send(1, kCapacity / 2);
  sut.reader.release(receive(1, kCapacity / 2));
  send(2, kCapacity / 2);
  ASSERT_TRUE(sut.writer.try_reserve(RecordType::kRequest, 3, kCapacity / 2));  // refreshes
  shared(ring_.control->read_position).store(0);
  const auto reservation = sut.writer.try_reserve(RecordType::kRequest, 3, kCapacity / 2);
  ASSERT_FALSE(reservation);
  EXPECT_EQ(reservation.error().code, ErrorCode::kCorrupt);
}

}  // namespace
}  // namespace infervisor::shm
