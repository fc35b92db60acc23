#include "bench/e2e/socket_round_trip.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <optional>
#include <stdexcept>
#include <system_error>

#include "bench/e2e/cpu_pinning.hpp"
#include "common/child_process.hpp"
#include "common/unique_fd.hpp"

namespace infervisor::bench::e2e {
namespace {

using Clock = std::chrono::steady_clock;
using Message = std::array<std::byte, 64>;

// Both return false at EOF or on an error; a stream socket may split a message.
bool write_all(int fd, const Message& message) noexcept {
  std::size_t done = 0;
  while (done < message.size()) {
    const ssize_t n = ::write(fd, message.data() + done, message.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

bool read_all(int fd, Message& message) noexcept {
  std::size_t done = 0;
  while (done < message.size()) {
    const ssize_t n = ::read(fd, message.data() + done, message.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

LatencySummary measure_socket_round_trip(const std::filesystem::path& self, Placement placement,
                                         std::size_t warm_up, std::size_t round_trips) {
  std::optional<std::pair<int, int>> cpus;
  if (placement != Placement::kScheduler) {
    cpus = first_two_cpus();
    if (!cpus) throw std::runtime_error("a pinned socket floor needs two usable CPUs");
  }
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    throw std::system_error(errno, std::generic_category(), "socketpair");
  }
  UniqueFd mine(ends[0]);
  UniqueFd theirs(ends[1]);
  std::optional<ScopedPin> pinned;
  if (cpus) pinned.emplace(cpus->first);
  SpawnOptions spawn;
  spawn.stdin_fd = theirs.get();
  ChildProcess peer = ChildProcess::spawn(self, {kSocketEchoFlag}, spawn);
  theirs.reset();  // the peer's copy is its only one: closing ours lets it see our EOF
  // Before the first message, so every round trip runs placed.
  if (cpus) pin_to_cpu(peer.pid(), placement == Placement::kSameCpu ? cpus->first : cpus->second);

  Message message{};
  std::vector<std::chrono::nanoseconds> samples;
  samples.reserve(round_trips);
  for (std::size_t i = 0; i < warm_up + round_trips; ++i) {
    message[0] = static_cast<std::byte>(i);
    const auto begin = Clock::now();
    if (!write_all(mine.get(), message) || !read_all(mine.get(), message)) {
      throw std::runtime_error("the socket echo peer went away");
    }
    const auto end = Clock::now();
    if (message[0] != static_cast<std::byte>(i)) throw std::runtime_error("wrong echo");
    if (i >= warm_up) samples.push_back(end - begin);
  }
  mine.reset();
  const auto status = peer.wait_for(std::chrono::seconds(5));
  if (!status || !status->success()) {
    throw std::runtime_error("the socket echo peer " +
                             (status ? status->describe() : "did not exit at EOF"));
  }
  return summarize(samples);
}

int serve_socket_echo() noexcept {
  Message message{};
  while (read_all(STDIN_FILENO, message)) {
    if (!write_all(STDIN_FILENO, message)) return 1;
  }
  return 0;
}

}  // namespace infervisor::bench::e2e
