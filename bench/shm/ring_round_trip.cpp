#include "bench/shm/ring_round_trip.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <stdexcept>

#include "bench/shm/peer_channel.hpp"
#include "bench/shm/peer_process.hpp"
#include "common/unique_fd.hpp"

namespace infervisor::bench {
namespace {

constexpr std::uint64_t kMessageBytes = 64;
constexpr std::uint64_t kRingBytes = 256 * 1024;

// The daemon's way to the next answer: poll for the spin budget, then park on the eventfd.
// Returns the response record; counts the times it parked and was woken.
shm::RecordView daemon_style_answer(shm::SupervisorChannel& channel, int wakeup_fd,
                                    const shm::SpinPolicy& policy, shm::Clock::time_point deadline,
                                    std::uint64_t& parked) {
  auto idle_since = shm::Clock::now();
  while (true) {
    if (auto record = channel.responses.try_peek().value()) return *record;
    const auto now = shm::Clock::now();
    if (now > deadline) throw std::runtime_error("no answer within 10 s");
    if (now - idle_since < policy.spin) {
      shm::cpu_relax();
      continue;
    }
    auto& responses = channel.responses;
    if (shm::arm_parking(responses.data_slot(), [&] { return responses.has_data_hint(); })) {
      pollfd wait{wakeup_fd, POLLIN, 0};
      if (::poll(&wait, 1, 100) == 1) {
        std::uint64_t count = 0;
        [[maybe_unused]] auto n = ::read(wakeup_fd, &count, sizeof(count));
        ++parked;
      }
      shm::disarm_parking(responses.data_slot());
    }
    idle_since = shm::Clock::now();
  }
}

}  // namespace

RoundTrips measure_ring_round_trip(std::uint64_t warm_up, std::uint64_t round_trips,
                                   std::optional<int> peer_cpu, SupervisorSide side) {
  auto channel =
      shm::SupervisorChannel::create(kSegmentPrefix, {kRingBytes, kRingBytes}, kGeneration).value();
  UniqueFd wakeup;
  if (side == SupervisorSide::kDaemon) {
    wakeup.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wakeup) throw std::runtime_error("eventfd failed");
  }
  auto args = channel_arguments(channel, wakeup ? wakeup.get() : -1);
  args.insert(args.begin(), "ring-echo");
  PeerProcess peer(args, peer_cpu, -1, wakeup ? wakeup.get() : -1);

  const shm::SpinPolicy policy;
  std::array<std::byte, kMessageBytes> message{};
  RoundTrips result;
  result.samples.reserve(round_trips);
  std::uint64_t parked = 0;
  for (std::uint64_t i = 0; i < warm_up + round_trips; ++i) {
    const auto start = shm::Clock::now();
    const auto deadline = start + std::chrono::seconds(10);
    message[0] = static_cast<std::byte>(i);
    shm::Reservation request;
    if (side == SupervisorSide::kDaemon) {
      // The daemon never waits for room: the worker answered the last one, so there is room.
      auto room = channel.requests.try_reserve(shm::RecordType::kRequest, i, kMessageBytes).value();
      if (!room) throw std::runtime_error("no room in the request ring");
      request = *room;
    } else {
      request =
          channel.requests.reserve(shm::RecordType::kRequest, i, kMessageBytes, policy, deadline)
              .value();
    }
    std::memcpy(request.payload.data(), message.data(), kMessageBytes);
    channel.requests.commit(request);
    const auto response = side == SupervisorSide::kDaemon
                              ? daemon_style_answer(channel, wakeup.get(), policy, deadline, parked)
                              : channel.responses.peek(policy, deadline).value();
    // Read the answer, as a caller would.
    if (response.job_id != i || response.payload.size() != kMessageBytes ||
        response.payload[0] != message[0]) {
      throw std::runtime_error(fmt::format("round trip {} came back wrong", i));
    }
    channel.responses.release(response);
    if (i >= warm_up) result.samples.push_back(shm::Clock::now() - start);
  }
  const auto report = shut_down_peer(channel, policy);
  peer.wait_success();

  result.messages = 2 * (warm_up + round_trips);
  // The peer's doorbell counts its eventfd writes; `parked` is this side's poll() wake-ups, the
  // same events seen from here, so only the peer's count is added.
  (void)parked;
  result.wakeups = channel.requests.wakeups() + channel.responses.wakeups() + report.wakeups;
  return result;
}

int serve_ring_echo(std::span<char* const> args) {
  auto channel = open_worker_channel(args);
  const shm::SpinPolicy policy;
  std::uint64_t records = 0;
  while (true) {
    const auto request = channel.requests.peek(policy, patience()).value();
    if (request.type == shm::RecordType::kShutdown) {
      const PeerReport report{channel.requests.wakeups() + channel.responses.wakeups(), records, 0};
      acknowledge_shutdown(channel, request, report, policy);
      return 0;
    }
    const auto response = channel.responses
                              .reserve(shm::RecordType::kResponse, request.job_id,
                                       request.payload.size(), policy, patience())
                              .value();
    std::memcpy(response.payload.data(), request.payload.data(), request.payload.size());
    channel.responses.commit(response);
    channel.requests.release(request);
    ++records;
  }
}

}  // namespace infervisor::bench
