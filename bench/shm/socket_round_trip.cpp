#include "bench/shm/socket_round_trip.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "bench/shm/peer_process.hpp"
#include "common/unique_fd.hpp"
#include "shm/wait.hpp"

namespace infervisor::bench {
namespace {

constexpr std::size_t kMessageBytes = 64;

// Reads exactly `buffer.size()` bytes; false at EOF before the first byte.
bool read_full(int fd, std::span<std::byte> buffer) {
  std::size_t done = 0;
  while (done < buffer.size()) {
    const auto got = ::read(fd, buffer.data() + done, buffer.size() - done);
    if (got == 0 && done == 0) return false;
    if (got == 0) throw std::runtime_error("socket closed mid-message");
    if (got < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "read");
    }
    done += static_cast<std::size_t>(got);
  }
  return true;
}

void write_full(int fd, std::span<const std::byte> buffer) {
  std::size_t done = 0;
  while (done < buffer.size()) {
    const auto put = ::write(fd, buffer.data() + done, buffer.size() - done);
    if (put < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "write");
    }
    done += static_cast<std::size_t>(put);
  }
}

}  // namespace

RoundTrips measure_socket_round_trip(std::uint64_t warm_up, std::uint64_t round_trips,
                                     std::optional<int> peer_cpu) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    throw std::system_error(errno, std::generic_category(), "socketpair");
  }
  UniqueFd ours(fds[0]);
  std::optional<PeerProcess> peer;
  {
    const UniqueFd theirs(fds[1]);  // dup2'd onto the peer's stdin, then closed here
    peer.emplace(std::vector<std::string>{"socket-echo"}, peer_cpu, theirs.get());
  }
  std::array<std::byte, kMessageBytes> message{};
  RoundTrips result;
  result.samples.reserve(round_trips);
  for (std::uint64_t i = 0; i < warm_up + round_trips; ++i) {
    const auto start = shm::Clock::now();
    message[0] = static_cast<std::byte>(i);
    write_full(ours.get(), message);
    if (!read_full(ours.get(), message) || message[0] != static_cast<std::byte>(i)) {
      throw std::runtime_error("socket echo came back wrong");
    }
    if (i >= warm_up) result.samples.push_back(shm::Clock::now() - start);
  }
  ours.reset();  // EOF ends the peer
  peer->wait_success();
  result.messages = 2 * (warm_up + round_trips);  // wake-ups happen inside the kernel: not counted
  return result;
}

int serve_socket_echo(std::span<char* const> /*args*/) {
  std::array<std::byte, kMessageBytes> message{};
  while (read_full(STDIN_FILENO, message))
    write_full(STDIN_FILENO, message);
  return 0;
}

}  // namespace infervisor::bench
