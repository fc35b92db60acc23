#include "bench/shm/ring_round_trip.hpp"

#include <fmt/format.h>

#include <array>
#include <cstring>
#include <stdexcept>

#include "bench/shm/peer_channel.hpp"
#include "bench/shm/peer_process.hpp"

namespace infervisor::bench {
namespace {

constexpr std::uint64_t kMessageBytes = 64;
constexpr std::uint64_t kRingBytes = 256 * 1024;

}  // namespace

RoundTrips measure_ring_round_trip(std::uint64_t warm_up, std::uint64_t round_trips,
                                   std::optional<int> peer_cpu) {
  auto channel =
      shm::SupervisorChannel::create(kSegmentPrefix, {kRingBytes, kRingBytes}, kGeneration).value();
  auto args = channel_arguments(channel);
  args.insert(args.begin(), "ring-echo");
  PeerProcess peer(args, peer_cpu);

  const shm::SpinPolicy policy;
  std::array<std::byte, kMessageBytes> message{};
  RoundTrips result;
  result.samples.reserve(round_trips);
  for (std::uint64_t i = 0; i < warm_up + round_trips; ++i) {
    const auto start = shm::Clock::now();
    const auto deadline = start + std::chrono::seconds(10);
    message[0] = static_cast<std::byte>(i);
    const auto request =
        channel.requests.reserve(shm::RecordType::kRequest, i, kMessageBytes, policy, deadline)
            .value();
    std::memcpy(request.payload.data(), message.data(), kMessageBytes);
    channel.requests.commit(request);
    const auto response = channel.responses.peek(policy, deadline).value();
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
