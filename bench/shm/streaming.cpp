#include "bench/shm/streaming.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "bench/shm/peer_channel.hpp"
#include "bench/shm/peer_process.hpp"
#include "shm/frame.hpp"

namespace infervisor::bench {
namespace {

constexpr std::string_view kModel = "bench";
constexpr std::uint64_t kSlackBytes = 1024 * 1024;

// Reads every byte: four independent sums so the loop runs at memory speed, not adder latency.
std::uint64_t sum_words(std::span<const std::byte> bytes) {
  std::uint64_t sums[4] = {};
  std::size_t at = 0;
  for (; at + 32 <= bytes.size(); at += 32) {
    std::uint64_t words[4];
    std::memcpy(words, bytes.data() + at, sizeof(words));
    for (int i = 0; i < 4; ++i)
      sums[i] += words[i];
  }
  for (; at < bytes.size(); ++at)
    sums[0] += std::to_integer<std::uint64_t>(bytes[at]);
  return sums[0] + sums[1] + sums[2] + sums[3];
}

std::vector<std::byte> random_bytes(std::uint64_t size) {
  std::vector<std::byte> bytes(size);
  std::uint64_t state = 0x243f6a8885a308d3ULL;
  for (std::size_t at = 0; at + 8 <= bytes.size(); at += 8) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    std::memcpy(bytes.data() + at, &state, 8);
  }
  return bytes;
}

double gb_per_s(std::uint64_t bytes, shm::Clock::duration elapsed) {
  return static_cast<double>(bytes) / std::chrono::duration<double>(elapsed).count() / 1e9;
}

double measure_memcpy(std::span<const std::byte> source, std::uint64_t frames) {
  // Two destinations, as the ring holds two frames: the copy is not served from a warm cache the
  // ring's records could never be in.
  std::vector<std::byte> destination(2 * source.size(), std::byte{1});  // faulted in here
  const auto copy = [&](std::uint64_t i) {
    std::memcpy(destination.data() + (i % 2) * source.size(), source.data(), source.size());
    asm volatile("" : : "r"(destination.data()) : "memory");  // keep every copy
  };
  copy(0);
  copy(1);
  const auto start = shm::Clock::now();
  for (std::uint64_t i = 0; i < frames; ++i)
    copy(i);
  return gb_per_s(frames * source.size(), shm::Clock::now() - start);
}

}  // namespace

StreamResult measure_streaming(std::uint64_t frame_bytes, std::uint64_t total_bytes,
                               std::optional<int> peer_cpu) {
  const auto source = random_bytes(frame_bytes);
  const std::uint64_t source_sum = sum_words(source);
  const std::int64_t dims[] = {static_cast<std::int64_t>(frame_bytes)};
  const shm::TensorLayout tensors[] = {{"payload", DType::kUInt8, dims}};
  const auto plan = shm::plan_frame(kModel, tensors, {}).value();
  const std::uint64_t record_bytes = sizeof(shm::RecordHeader) + plan.total_bytes;
  const std::uint64_t frames = std::max<std::uint64_t>(4, total_bytes / frame_bytes);

  StreamResult result;
  result.frames = frames;
  result.memcpy_gb_per_s = measure_memcpy(source, frames);

  // Room for two frames: the producer fills one while the consumer reads the other.
  auto channel =
      shm::SupervisorChannel::create(
          kSegmentPrefix, {2 * record_bytes + kSlackBytes, shm::kMinRingBytes}, kGeneration)
          .value();
  auto args = channel_arguments(channel);
  args.insert(args.begin(), "stream-consume");
  PeerProcess peer(args, peer_cpu);

  const shm::SpinPolicy policy;
  std::uint64_t job = 0;
  const auto send = [&] {
    ++job;
    const auto reservation =
        channel.requests
            .reserve(shm::RecordType::kRequest, job, plan.total_bytes, policy, patience())
            .value();
    const auto payloads = shm::write_frame(reservation.payload, plan, shm::FrameKind::kRequest, job,
                                           kModel, tensors, {});
    std::memcpy(payloads[0].data(), source.data(), frame_bytes);
    channel.requests.commit(reservation);
  };
  // Warm-up: every page of the ring touched once by both sides, then an idle consumer.
  const std::uint64_t warm_up = channel.segment.request_ring().capacity / frame_bytes + 2;
  for (std::uint64_t i = 0; i < warm_up; ++i)
    send();
  const auto give_up = patience();
  while (!channel.requests.drained()) {
    if (shm::Clock::now() > give_up) throw std::runtime_error("stream consumer stalled");
    shm::cpu_relax();
  }

  const auto start = shm::Clock::now();
  for (std::uint64_t i = 0; i < frames; ++i)
    send();
  const auto report = shut_down_peer(channel, policy);
  result.ring_gb_per_s = gb_per_s(frames * frame_bytes, shm::Clock::now() - start);
  peer.wait_success();

  if (report.records != warm_up + frames || report.word_sum != source_sum * (warm_up + frames)) {
    throw std::runtime_error(
        fmt::format("consumer saw {} frames (sum {:#x}); {} were sent (sum {:#x})", report.records,
                    report.word_sum, warm_up + frames, source_sum * (warm_up + frames)));
  }
  return result;
}

int serve_stream_consumer(std::span<char* const> args) {
  auto channel = open_worker_channel(args);
  const shm::SpinPolicy policy;
  PeerReport report{};
  while (true) {
    const auto record = channel.requests.peek(policy, patience()).value();
    if (record.type == shm::RecordType::kShutdown) {
      report.wakeups = channel.requests.wakeups() + channel.responses.wakeups();
      acknowledge_shutdown(channel, record, report, policy);
      return 0;
    }
    const auto frame = shm::decode_frame(record.payload, record.job_id).value();
    for (const auto& tensor : frame.tensors)
      report.word_sum += sum_words(tensor.data);
    channel.requests.release(record);
    ++report.records;
  }
}

}  // namespace infervisor::bench
