#include "bench/common/socket_transfer.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <system_error>

#include "bench/common/cpu_pinning.hpp"
#include "common/child_process.hpp"
#include "common/unique_fd.hpp"

namespace infervisor::bench {
namespace {

using Clock = std::chrono::steady_clock;
using Message = std::array<std::byte, 64>;

// Both return false at EOF or on an error; a stream socket may split a message.
bool write_all(int fd, const std::byte* data, std::size_t size) noexcept {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

bool read_all(int fd, std::byte* data, std::size_t size) noexcept {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// One end of a socketpair here, the other on the peer's standard input.
struct Connected {
  UniqueFd mine;
  ChildProcess peer;
  std::optional<ScopedPin> pinned;

  // EOF ends the peer, which must then exit 0.
  void finish() {
    mine.reset();
    const auto status = peer.wait_for(std::chrono::seconds(10));
    if (!status || !status->success()) {
      throw std::runtime_error("the socket peer " +
                               (status ? status->describe() : "did not exit at EOF"));
    }
  }
};

void connect(Connected& connected, const SocketPeer& peer, Pinning pinning) {
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    throw std::system_error(errno, std::generic_category(), "socketpair");
  }
  connected.mine.reset(ends[0]);
  UniqueFd theirs(ends[1]);
  if (pinning.self) connected.pinned.emplace(*pinning.self);
  SpawnOptions spawn;
  spawn.stdin_fd = theirs.get();
  connected.peer = ChildProcess::spawn(peer.executable, peer.args, spawn);
  // Before the first message, so every round trip runs placed.
  if (pinning.peer) pin_to_cpu(connected.peer.pid(), *pinning.peer);
}  // `theirs` closes here: the peer's copy is its only one

}  // namespace

Pinning pinning_for(Placement placement) {
  if (placement == Placement::kScheduler) return {};
  const auto cpus = first_two_cpus();
  if (!cpus) throw std::runtime_error("a pinned socket floor needs two usable CPUs");
  return {cpus->first, placement == Placement::kSameCpu ? cpus->first : cpus->second};
}

std::vector<std::chrono::nanoseconds> socket_round_trips(const SocketPeer& peer, Pinning pinning,
                                                         std::size_t warm_up,
                                                         std::size_t round_trips) {
  Connected connected;
  connect(connected, peer, pinning);
  Message message{};
  std::vector<std::chrono::nanoseconds> samples;
  samples.reserve(round_trips);
  for (std::size_t i = 0; i < warm_up + round_trips; ++i) {
    message[0] = static_cast<std::byte>(i);
    const auto begin = Clock::now();
    if (!write_all(connected.mine.get(), message.data(), message.size()) ||
        !read_all(connected.mine.get(), message.data(), message.size())) {
      throw std::runtime_error("the socket echo peer went away");
    }
    const auto end = Clock::now();
    if (message[0] != static_cast<std::byte>(i)) throw std::runtime_error("wrong echo");
    if (i >= warm_up) samples.push_back(end - begin);
  }
  connected.finish();
  return samples;
}

double socket_bulk_bytes_per_second(const SocketPeer& peer, std::size_t bytes, int transfers) {
  Connected connected;
  connect(connected, peer, Pinning{});
  std::vector<std::byte> message(sizeof(std::uint64_t) + bytes, std::byte{0x5a});
  const std::uint64_t size = bytes;
  std::memcpy(message.data(), &size, sizeof(size));
  std::byte ack{};
  Clock::time_point begin;
  for (int i = 0; i <= transfers; ++i) {
    if (i == 1) begin = Clock::now();  // the first one warms both ends up
    if (!write_all(connected.mine.get(), message.data(), message.size()) ||
        !read_all(connected.mine.get(), &ack, 1)) {
      throw std::runtime_error("the socket sink peer went away");
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  connected.finish();
  return static_cast<double>(bytes) * transfers / seconds;
}

int serve_socket_echo() noexcept {
  Message message{};
  while (read_all(STDIN_FILENO, message.data(), message.size())) {
    if (!write_all(STDIN_FILENO, message.data(), message.size())) return 1;
  }
  return 0;
}

int serve_socket_sink() noexcept {
  std::vector<std::byte> buffer;
  std::uint64_t size = 0;
  while (read_all(STDIN_FILENO, reinterpret_cast<std::byte*>(&size), sizeof(size))) {
    if (size > (std::uint64_t{1} << 34)) return 1;
    buffer.resize(size);
    if (!read_all(STDIN_FILENO, buffer.data(), buffer.size())) return 1;
    const std::byte ack{1};
    if (!write_all(STDIN_FILENO, &ack, 1)) return 1;
  }
  return 0;
}

}  // namespace infervisor::bench
