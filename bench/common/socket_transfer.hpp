// The Unix-socket floors every benchmark here compares against, measured between this process and
// a peer (this executable again, started with `peer.args`, its end of a socketpair on standard
// input; it must run serve_socket_echo() or serve_socket_sink()):
//   round trips  64 bytes each way over a blocking AF_UNIX stream socket: what an HTTP request
//                to infervisord pays at least, once each way;
//   bulk         `bytes` one way, one byte back: what a large tensor over the socket pays.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace infervisor::bench {

struct SocketPeer {
  std::filesystem::path executable;  // usually this benchmark itself
  std::vector<std::string> args;     // what makes it serve (e.g. {"--socket-echo"})
};

// Where the two ends run (see cpu_pinning.hpp for why it matters so much on a VM).
enum class Placement {
  kScheduler,  // wherever the scheduler puts them, as it places the daemon
  kSameCpu,    // both on the first usable CPU: each hand-off is a context switch
  kTwoCpus,    // one CPU each: each hand-off wakes the other CPU
};

// The CPU each end is pinned to while it runs; nullopt: where the scheduler (or an earlier pin of
// the whole process) puts it.
struct Pinning {
  std::optional<int> self;
  std::optional<int> peer;
};
// Throws std::runtime_error if the placement needs two CPUs and this process may use fewer.
Pinning pinning_for(Placement placement);

// `round_trips` round trips after `warm_up` more: their durations. Throws std::system_error or
// std::runtime_error.
std::vector<std::chrono::nanoseconds> socket_round_trips(const SocketPeer& peer, Pinning pinning,
                                                         std::size_t warm_up,
                                                         std::size_t round_trips);

// `transfers` messages of `bytes` each (after one for warm-up), each answered by one byte once
// the peer has read all of it: bytes per second over all of them.
double socket_bulk_bytes_per_second(const SocketPeer& peer, std::size_t bytes, int transfers);

// The peers, on standard input until EOF; they return the exit code.
int serve_socket_echo() noexcept;  // echoes 64-byte messages
int serve_socket_sink() noexcept;  // reads "<8-byte size><bytes>" messages, acknowledges each

}  // namespace infervisor::bench
