// The channel between two real processes: this test is the supervisor, ring_peer (spawned) the
// worker. Messages both ways at once through many wraps, a worker SIGKILLed while it writes, the
// SHUTDOWN sentinel and its acknowledgement, and bounded waits that let either side notice a dead
// or silent peer.
#include "shm/channel.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/child_process.hpp"
#include "tests/shm/shm_fixture.hpp"
#include "tests/shm/test_message.hpp"

namespace infervisor::shm {
namespace {
using testing::check_message;
using testing::fill_message;
using testing::MessageSizes;
using testing::Random;
using testing::ShmFixture;

constexpr std::uint64_t kGeneration = 3;
constexpr std::uint64_t kRingBytes = 64 * 1024;
// A hang guard only: how long a healthy peer may stay silent, sanitizer builds included.
constexpr auto kPatience = std::chrono::seconds(60);
constexpr auto kWaitSlice = std::chrono::milliseconds(100);

Clock::time_point in(std::chrono::milliseconds delay) {
  return Clock::now() + delay;
}

std::uint64_t positions_written(const RingView& ring) {
  return shared(ring.control->write_position).load(std::memory_order_acquire);
}

// The next record from `peer`, waiting a slice at a time and checking between slices that the peer
// still runs: the way the supervisor notices a dead worker.
Result<RecordView> receive(RingReader& reader, ChildProcess& peer) {
  const auto give_up = Clock::now() + kPatience;
  while (true) {
    auto record = reader.peek(SpinPolicy{}, Clock::now() + kWaitSlice);
    if (record || record.error().code != ErrorCode::kTimeout) return record;
    if (const auto status = peer.try_reap()) {
      // Its last record may have landed between the timeout and its end.
      auto last = reader.try_peek();
      if (!last) return last.error();
      if (*last) return **last;
      return make_error(ErrorCode::kPeerGone, "peer {} {} and sent nothing more", peer.pid(),
                        status->describe());
    }
    if (Clock::now() > give_up) {
      return make_error(ErrorCode::kTimeout, "peer {} sent nothing for {} s", peer.pid(),
                        kPatience.count());
    }
  }
}

// Sends REQUEST messages 0..count-1 and then SHUTDOWN from its own thread, so that the test thread
// reads the responses meanwhile. Gives up when the test stops it (a failed assertion destroys it).
class RequestSender {
 public:
  RequestSender(RingWriter& writer, std::uint64_t count, std::uint64_t max_bytes,
                std::uint64_t seed)
      : thread_([this, &writer, count, max_bytes, seed](std::stop_token stop) {
          run(writer, count, max_bytes, seed, stop);
        }) {}

  // Waits for the last record to be sent; returns what went wrong, or "".
  std::string finish() {
    thread_.join();
    return error_;
  }

 private:
  void run(RingWriter& writer, std::uint64_t count, std::uint64_t max_bytes, std::uint64_t seed,
           const std::stop_token& stop) {
    MessageSizes sizes(seed, max_bytes);
    Random body(~seed);
    for (std::uint64_t sequence = 0; sequence <= count; ++sequence) {
      const bool last = sequence == count;
      const auto type = last ? RecordType::kShutdown : RecordType::kRequest;
      const std::uint64_t bytes = last ? 0 : sizes.next();
      Result<Reservation> reservation = make_error(ErrorCode::kTimeout, "not yet");
      const auto give_up = Clock::now() + kPatience;
      while (!reservation) {
        if (stop.stop_requested()) return;
        reservation = writer.reserve(type, sequence, bytes, SpinPolicy{}, in(kWaitSlice));
        if (!reservation &&
            (reservation.error().code != ErrorCode::kTimeout || Clock::now() > give_up)) {
          error_ = fmt::format("request {}: {}", sequence, reservation.error().message);
          return;
        }
      }
      fill_message(reservation->payload, sequence, body);
      writer.commit(*reservation);
    }
  }

  std::string error_;
  std::jthread thread_;  // last: starts once everything it uses exists
};

class Channel_test : public ShmFixture {
 protected:
  Channel_test() : ShmFixture("ivt-channel") {}

  SupervisorChannel create_channel() {
    return SupervisorChannel::create(prefix(), {kRingBytes, kRingBytes}, kGeneration).value();
  }

  // Starts ring_peer on `channel`'s segment, playing `part`.
  ChildProcess spawn_peer(const SupervisorChannel& channel, std::vector<std::string> part,
                          std::uint64_t generation = kGeneration) {
    std::vector<std::string> args = {channel.segment.name(), std::to_string(generation),
                                     std::to_string(::getpid())};
    args.insert(args.end(), part.begin(), part.end());
    return ChildProcess::spawn(INFERVISOR_RING_PEER, args);
  }

  void expect_ready(SupervisorChannel& channel, ChildProcess& peer, std::string_view part) {
    const auto ready = receive(channel.responses, peer);
    ASSERT_TRUE(ready) << ready.error().message;
    EXPECT_EQ(ready->type, RecordType::kReady);
    EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(ready->payload.data()),
                               ready->payload.size()),
              fmt::format("ring_peer {}", part));
    channel.responses.release(*ready);
  }
};

// (a) Requests one way and an independent stream of responses the other, both at once, of random
// sizes from 0 to a quarter of the 64 KiB rings, every one checked for sequence and checksum (the
// peer checks the requests, and exits non-zero on the first bad one).
TEST_F(Channel_test, HundredThousandMessagesBothWaysThroughManyWraps) {
  constexpr std::uint64_t kMessages = 100000;
  auto channel = create_channel();
  auto peer = spawn_peer(channel, {"echo", std::to_string(kRingBytes / 4), "11"});
  expect_ready(channel, peer, "echo");

  RequestSender sender(channel.requests, kMessages, kRingBytes / 4, 12);
  for (std::uint64_t sequence = 0; sequence < kMessages; ++sequence) {
    const auto record = receive(channel.responses, peer);
    ASSERT_TRUE(record) << "response " << sequence << ": " << record.error().message;
    ASSERT_EQ(record->type, RecordType::kResponse) << record_type_name(record->type);
    const auto wrong = check_message(record->job_id, record->payload, sequence);
    ASSERT_TRUE(wrong.empty()) << "response " << wrong;
    channel.responses.release(*record);
  }
  const auto ack = receive(channel.responses, peer);
  ASSERT_TRUE(ack) << ack.error().message;
  EXPECT_EQ(ack->type, RecordType::kShutdownAck);
  EXPECT_EQ(ack->job_id, kMessages) << "requests the peer saw before SHUTDOWN";
  channel.responses.release(*ack);
  EXPECT_EQ(sender.finish(), "");

  const auto status = peer.wait_for(kPatience);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->exited() && status->exit_code() == 0) << status->describe();
  EXPECT_GT(positions_written(channel.segment.request_ring()) / kRingBytes, 300u)
      << "too few wraps of the request ring";
  EXPECT_GT(positions_written(channel.segment.response_ring()) / kRingBytes, 300u)
      << "too few wraps of the response ring";
}

// (b) The worker dies by SIGKILL at a random point while it streams records of up to half the
// ring, mostly in the middle of writing one. Whatever it left: every record the supervisor can
// still see is whole and checks out, and then the ring is empty, not garbage.
TEST_F(Channel_test, ProducerKilledMidStreamLeavesOnlyWholeRecords) {
  Random random(99);
  for (int round = 0; round < 8; ++round) {
    SCOPED_TRACE(fmt::format("round {}", round));
    {
      auto channel = create_channel();
      auto peer = spawn_peer(
          channel, {"produce", std::to_string(kRingBytes / 2), std::to_string(round + 1)});
      expect_ready(channel, peer, "produce");
      const std::uint64_t kill_at = 20 + random.below(3000);
      std::uint64_t sequence = 0;
      bool killed = false;
      bool dead = false;
      const auto give_up = Clock::now() + kPatience;
      while (true) {
        if (!killed && sequence == kill_at) {
          peer.signal(SIGKILL);  // the peer is busy producing: the consumer kept pace with it
          killed = true;
        }
        const auto record = channel.responses.try_peek();
        ASSERT_TRUE(record) << "after " << sequence << " records: " << record.error().message;
        if (*record) {
          ASSERT_EQ((*record)->type, RecordType::kResponse);
          const auto wrong = check_message((*record)->job_id, (*record)->payload, sequence);
          ASSERT_TRUE(wrong.empty()) << wrong;
          channel.responses.release(**record);
          ++sequence;
          continue;
        }
        if (dead) break;  // empty, and nothing can follow
        ASSERT_LT(Clock::now(), give_up) << "stuck after " << sequence << " records";
        if (killed) {
          dead = peer.try_reap().has_value();  // then look once more: it may have just committed
        } else {
          const auto waited = channel.responses.peek(SpinPolicy{}, in(kWaitSlice));
          ASSERT_TRUE(waited || waited.error().code == ErrorCode::kTimeout)
              << waited.error().message;
        }
      }
      const auto status = peer.try_reap();
      ASSERT_TRUE(status);
      EXPECT_TRUE(status->killed_by(SIGKILL)) << status->describe();
      EXPECT_GE(sequence, kill_at);
      // (d) Nothing more will come, and a bounded wait says so instead of hanging.
      const auto after = channel.responses.peek(SpinPolicy{}, in(std::chrono::milliseconds(20)));
      ASSERT_FALSE(after) << "a record appeared after the producer died";
      EXPECT_EQ(after.error().code, ErrorCode::kTimeout);
    }
    expect_no_leftover_segments();
  }
}

// (c) N requests and then SHUTDOWN, all written before the worker answers anything: it answers
// every request, in order, before it acknowledges, and the acknowledgement counts them.
TEST_F(Channel_test, ShutdownIsAcknowledgedAfterEveryRequestBeforeIt) {
  constexpr std::uint64_t kRequests = 200;  // small enough that both rings hold them all
  auto channel = create_channel();
  auto peer = spawn_peer(channel, {"echo", "120", "21"});
  expect_ready(channel, peer, "echo");
  MessageSizes sizes(22, 120);
  Random body(23);
  for (std::uint64_t sequence = 0; sequence <= kRequests; ++sequence) {
    const auto type = sequence == kRequests ? RecordType::kShutdown : RecordType::kRequest;
    const auto bytes = sequence == kRequests ? 0 : sizes.next();
    auto reservation = channel.requests.try_reserve(type, sequence, bytes);
    ASSERT_TRUE(reservation && *reservation) << "request " << sequence << " does not fit";
    fill_message((*reservation)->payload, sequence, body);
    channel.requests.commit(**reservation);
  }
  // The peer exits right after the acknowledgement; everything it wrote is in the ring by then.
  const auto status = peer.wait_for(kPatience);
  ASSERT_TRUE(status);
  ASSERT_TRUE(status->exited() && status->exit_code() == 0) << status->describe();
  EXPECT_TRUE(channel.requests.drained()) << "the worker left requests unread";

  for (std::uint64_t sequence = 0; sequence < kRequests; ++sequence) {
    const auto record = channel.responses.try_peek();
    ASSERT_TRUE(record && *record) << "response " << sequence << " missing";
    ASSERT_EQ((*record)->type, RecordType::kResponse);
    const auto wrong = check_message((*record)->job_id, (*record)->payload, sequence);
    ASSERT_TRUE(wrong.empty()) << wrong;
    channel.responses.release(**record);
  }
  const auto ack = channel.responses.try_peek();
  ASSERT_TRUE(ack && *ack) << "no SHUTDOWN_ACK";
  EXPECT_EQ((*ack)->type, RecordType::kShutdownAck);
  EXPECT_EQ((*ack)->job_id, kRequests);
  channel.responses.release(**ack);
  const auto after = channel.responses.try_peek();
  ASSERT_TRUE(after);
  EXPECT_FALSE(*after) << "a record after SHUTDOWN_ACK";
}

// (d) Bounded waits end with kTimeout, on both sides, so neither hangs on a dead or silent peer.
TEST_F(Channel_test, SupervisorWaitsTimeOutOnADeadWorker) {
  auto channel = create_channel();
  auto peer = spawn_peer(channel, {"idle"});
  expect_ready(channel, peer, "idle");
  peer.signal(SIGKILL);
  const auto status = peer.wait_for(kPatience);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->killed_by(SIGKILL)) << status->describe();

  const auto deadline = in(std::chrono::milliseconds(20));
  const auto record = channel.responses.peek(SpinPolicy{}, deadline);
  ASSERT_FALSE(record);
  EXPECT_EQ(record.error().code, ErrorCode::kTimeout);
  EXPECT_GE(Clock::now(), deadline);

  // Nobody drains the request ring any more: once it is full, reserve() gives up at its deadline.
  while (true) {
    auto reservation = channel.requests.try_reserve(RecordType::kRequest, 1, 1000);
    ASSERT_TRUE(reservation) << reservation.error().message;
    if (!*reservation) break;
    channel.requests.commit(**reservation);
  }
  const auto reserve_deadline = in(std::chrono::milliseconds(20));
  const auto reservation =
      channel.requests.reserve(RecordType::kRequest, 2, 1000, SpinPolicy{}, reserve_deadline);
  ASSERT_FALSE(reservation);
  EXPECT_EQ(reservation.error().code, ErrorCode::kTimeout);
  EXPECT_GE(Clock::now(), reserve_deadline);
}

TEST_F(Channel_test, WorkerWaitsTimeOutOnASilentSupervisor) {
  auto channel = create_channel();
  auto peer = spawn_peer(channel, {"expect-timeout"});
  expect_ready(channel, peer, "expect-timeout");
  const auto status = peer.wait_for(kPatience);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->exited() && status->exit_code() == 0) << status->describe();
}

TEST_F(Channel_test, WorkerOfAnotherGenerationCannotAttach) {
  auto channel = create_channel();
  auto peer = spawn_peer(channel, {"idle"}, kGeneration + 1);
  const auto status = peer.wait_for(kPatience);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->exited() && status->exit_code() == 3) << status->describe();
  const auto record = channel.responses.try_peek();
  ASSERT_TRUE(record);
  EXPECT_FALSE(*record) << "a stale worker wrote into the segment";
}

}  // namespace
}  // namespace infervisor::shm
