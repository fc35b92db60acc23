// The worker end of the two-process channel tests (channel_test.cpp). It opens the segment the
// test created, as a worker would, says READY, and then plays one part:
//
//   echo <max-response-bytes> <seed>   answers each REQUEST message with a RESPONSE message of its
//                                      own random stream; answers SHUTDOWN with SHUTDOWN_ACK, whose
//                                      job id is the number of requests it saw, and exits
//   produce <max-bytes> <seed>         sends RESPONSE messages as fast as it can until killed
//   idle                               waits for nothing until killed
//   expect-timeout                     a bounded peek on the silent request ring must time out
//
// usage: ring_peer <segment-name> <generation> <supervisor-pid> <part> [part arguments]
// Exit status: 0 done, 2 bad usage, 3 cannot open the segment, 4 the protocol went wrong,
// 5 the supervisor (its parent) is gone.
#include <fmt/format.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>

#include "shm/channel.hpp"
#include "tests/shm/test_message.hpp"

namespace infervisor::shm::testing {
namespace {

enum Exit { kDone = 0, kUsage = 2, kCannotOpen = 3, kProtocol = 4, kSupervisorGone = 5 };

// How long one wait lasts before the peer checks that its supervisor still runs.
constexpr auto kWaitSlice = std::chrono::milliseconds(100);

[[noreturn]] void quit(Exit status, std::string_view why) {
  fmt::print(stderr, "ring_peer[{}]: {}\n", ::getpid(), why);
  std::exit(status);
}

std::uint64_t number(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    quit(kUsage, fmt::format("'{}' is not a number", text));
  }
  return value;
}

class Peer {
 public:
  Peer(WorkerChannel channel, pid_t supervisor)
      : channel_(std::move(channel)), supervisor_(supervisor) {}

  RecordView next_request() {
    while (true) {
      auto record = channel_.requests.peek(SpinPolicy{}, Clock::now() + kWaitSlice);
      if (record) return *record;
      if (record.error().code != ErrorCode::kTimeout) quit(kProtocol, record.error().message);
      check_supervisor();
    }
  }

  Reservation reserve(RecordType type, std::uint64_t job_id, std::uint64_t bytes) {
    while (true) {
      auto reservation =
          channel_.responses.reserve(type, job_id, bytes, SpinPolicy{}, Clock::now() + kWaitSlice);
      if (reservation) return *reservation;
      if (reservation.error().code != ErrorCode::kTimeout) {
        quit(kProtocol, reservation.error().message);
      }
      check_supervisor();
    }
  }

  void send(RecordType type, std::uint64_t job_id, std::string_view text) {
    const auto reservation = reserve(type, job_id, text.size());
    std::memcpy(reservation.payload.data(), text.data(), text.size());
    channel_.responses.commit(reservation);
  }

  WorkerChannel& channel() { return channel_; }

 private:
  void check_supervisor() const {
    // Reparented: the process that spawned us has died.
    if (::getppid() != supervisor_) quit(kSupervisorGone, "supervisor gone");
  }

  WorkerChannel channel_;
  pid_t supervisor_;
};

int echo(Peer& peer, std::uint64_t max_response_bytes, std::uint64_t seed) {
  MessageSizes sizes(seed, max_response_bytes);
  Random body(~seed);
  for (std::uint64_t sequence = 0;; ++sequence) {
    const RecordView request = peer.next_request();
    if (request.type == RecordType::kShutdown) {
      peer.channel().requests.release(request);
      // Every request before the sentinel is answered by now: acknowledge with their count.
      peer.send(RecordType::kShutdownAck, sequence, "");
      return kDone;
    }
    if (request.type != RecordType::kRequest) {
      quit(kProtocol, fmt::format("a {} record where REQUEST {} was due",
                                  record_type_name(request.type), sequence));
    }
    if (const auto wrong = check_message(request.job_id, request.payload, sequence);
        !wrong.empty()) {
      quit(kProtocol, "request " + wrong);
    }
    // The request stays in its ring while the answer is written, as a worker reads its inputs in
    // place; released only once the answer is out.
    const auto response = peer.reserve(RecordType::kResponse, sequence, sizes.next());
    fill_message(response.payload, sequence, body);
    peer.channel().responses.commit(response);
    peer.channel().requests.release(request);
  }
}

[[noreturn]] void produce(Peer& peer, std::uint64_t max_bytes, std::uint64_t seed) {
  MessageSizes sizes(seed, max_bytes);
  Random body(~seed);
  for (std::uint64_t sequence = 0;; ++sequence) {
    const auto reservation = peer.reserve(RecordType::kResponse, sequence, sizes.next());
    fill_message(reservation.payload, sequence, body);
    peer.channel().responses.commit(reservation);
  }
}

int expect_timeout(Peer& peer) {
  const auto record =
      peer.channel().requests.peek(SpinPolicy{}, Clock::now() + std::chrono::milliseconds(20));
  if (record) quit(kProtocol, "a record arrived on a ring nobody writes");
  if (record.error().code != ErrorCode::kTimeout) quit(kProtocol, record.error().message);
  return kDone;
}

int run(std::span<char*> args) {
  if (args.size() < 5) {
    quit(kUsage, "usage: ring_peer <segment-name> <generation> <supervisor-pid> <part> [args]");
  }
  const std::string_view name = args[1];
  const auto supervisor = static_cast<pid_t>(number(args[3]));
  auto channel = WorkerChannel::open(name, {number(args[2]), supervisor}, -1);
  if (!channel) quit(kCannotOpen, channel.error().message);
  Peer peer(std::move(*channel), supervisor);

  const std::string_view part = args[4];
  const auto part_args = args.subspan(5);
  peer.send(RecordType::kReady, 0, fmt::format("ring_peer {}", part));
  if (part == "echo" && part_args.size() == 2) {
    return echo(peer, number(part_args[0]), number(part_args[1]));
  }
  if (part == "produce" && part_args.size() == 2) {
    produce(peer, number(part_args[0]), number(part_args[1]));
  }
  if (part == "idle" && part_args.empty()) {
    peer.next_request();
    quit(kProtocol, "a request arrived while idle");
  }
  if (part == "expect-timeout" && part_args.empty()) return expect_timeout(peer);
  quit(kUsage, fmt::format("unknown part '{}' or wrong arguments for it", part));
}

}  // namespace
}  // namespace infervisor::shm::testing

int main(int argc, char** argv) {
  return infervisor::shm::testing::run(std::span<char*>(argv, static_cast<std::size_t>(argc)));
}
