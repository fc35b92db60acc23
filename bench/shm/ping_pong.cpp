#include "bench/shm/ping_pong.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <new>
#include <stdexcept>

#include "bench/shm/peer_process.hpp"
#include "bench/shm/protocol.hpp"
#include "shm/segment.hpp"
#include "shm/wait.hpp"

namespace infervisor::bench {
namespace {
namespace bip = boost::interprocess;
using shm::shared;

// Each word on its own line, as the ring's indices are.
struct PingPong {
  alignas(shm::kCacheLine) std::uint32_t ping;  // round number, written by the measuring side
  alignas(shm::kCacheLine) std::uint32_t pong;  // round number echoed, written by the peer
  shm::WaitSlot ping_slot;                      // the peer parks here
  shm::WaitSlot pong_slot;                      // the measuring side parks here
  std::uint64_t peer_wakeups;                   // written by the peer before it exits
};

const char* kind_name(PingPongKind kind) {
  return kind == PingPongKind::kFutex ? "futex" : "spin";
}

// Raw futex: park whenever the value is not there yet, no spinning, no parked flag.
void futex_wait_for(std::uint32_t& word, std::uint32_t value) {
  const auto give_up = patience();
  for (std::uint32_t seen; (seen = shared(word).load(std::memory_order_acquire)) != value;) {
    if (shm::Clock::now() > give_up) throw std::runtime_error("ping-pong peer went silent");
    shm::futex_wait(&word, seen, std::chrono::seconds(1));
  }
}

void futex_send(std::uint32_t& word, std::uint32_t value) {
  shared(word).store(value, std::memory_order_seq_cst);
  shm::futex_wake_all(&word);  // always: this floor is the all-system-call path
}

void spin_wait_for(shm::WaitSlot& slot, std::uint32_t& word, std::uint32_t value) {
  const auto outcome = shm::wait_until(
      slot, [&] { return shared(word).load(std::memory_order_seq_cst) == value; },
      shm::SpinPolicy{}, patience());
  if (outcome != shm::WaitOutcome::kReady) throw std::runtime_error("ping-pong peer went silent");
}

void spin_send(shm::Doorbell& doorbell, std::uint32_t& word, std::uint32_t value) {
  shared(word).store(value, std::memory_order_seq_cst);
  doorbell.ring();
}

}  // namespace

RoundTrips measure_ping_pong(PingPongKind kind, std::uint64_t warm_up, std::uint64_t round_trips,
                             std::optional<int> peer_cpu) {
  const auto total = static_cast<std::uint32_t>(warm_up + round_trips);
  const std::string name = fmt::format("{}.{}.pingpong", kSegmentPrefix, ::getpid());
  bip::shared_memory_object object(bip::create_only, name.c_str(), bip::read_write);
  shm::ShmName owned(name);
  object.truncate(static_cast<bip::offset_t>(shm::kPageBytes));
  bip::mapped_region region(object, bip::read_write);
  auto& words = *new (region.get_address()) PingPong{};
  PeerProcess peer({"ping-pong", kind_name(kind), name, std::to_string(total)}, peer_cpu);

  shm::Doorbell wake_peer(&words.ping_slot, -1);
  RoundTrips result;
  result.samples.reserve(round_trips);
  for (std::uint32_t round = 1; round <= total; ++round) {
    const auto start = shm::Clock::now();
    if (kind == PingPongKind::kFutex) {
      futex_send(words.ping, round);
      futex_wait_for(words.pong, round);
    } else {
      spin_send(wake_peer, words.ping, round);
      spin_wait_for(words.pong_slot, words.pong, round);
    }
    if (round > warm_up) result.samples.push_back(shm::Clock::now() - start);
  }
  peer.wait_success();
  result.messages = 2 * std::uint64_t{total};
  // The futex floor makes one wake-up call per message by construction.
  result.wakeups =
      kind == PingPongKind::kFutex ? result.messages : wake_peer.wakeups() + words.peer_wakeups;
  return result;
}

int serve_ping_pong(std::span<char* const> args) {
  if (args.size() != 3) throw std::invalid_argument("ping-pong: <futex|spin> <name> <rounds>");
  const bool futex = std::string_view(args[0]) == "futex";
  const auto total = static_cast<std::uint32_t>(std::stoul(args[2]));
  bip::shared_memory_object object(bip::open_only, args[1], bip::read_write);
  bip::mapped_region region(object, bip::read_write);
  auto& words = *static_cast<PingPong*>(region.get_address());
  shm::Doorbell wake_measurer(&words.pong_slot, -1);
  for (std::uint32_t round = 1; round <= total; ++round) {
    if (futex) {
      futex_wait_for(words.ping, round);
      futex_send(words.pong, round);
    } else {
      spin_wait_for(words.ping_slot, words.ping, round);
      spin_send(wake_measurer, words.pong, round);
    }
  }
  words.peer_wakeups = wake_measurer.wakeups();  // read after our exit, which waitpid orders
  return 0;
}

}  // namespace infervisor::bench
