// Ctrl-C as "stop now", for a command that runs until then (infervisorctl top).
//
// While an InterruptWatch lives, the first SIGINT only sets a flag, and sleep_for() wakes up for
// it at once, with no window in which the signal could slip by between checking the flag and
// sleeping (SIGINT is blocked there and unblocked only inside ppoll). A request in progress
// finishes first; a second SIGINT kills the process as usual (the handler is SA_RESETHAND), so
// a hung request can still be interrupted. One per process at a time; the destructor restores
// the disposition it found. Meant for a single-threaded program: another thread that does not
// block SIGINT may take the signal, which still sets the flag but does not wake the sleep.
#pragma once

#include <signal.h>

#include <chrono>

namespace infervisor::client {

class InterruptWatch {
 public:
  InterruptWatch();  // throws InfervisorError(kSystem) if sigaction fails
  ~InterruptWatch();
  InterruptWatch(const InterruptWatch&) = delete;
  InterruptWatch& operator=(const InterruptWatch&) = delete;

  bool interrupted() const noexcept;
  // Sleeps for `duration` unless SIGINT comes first (or came already): false if it did.
  bool sleep_for(std::chrono::nanoseconds duration) noexcept;

 private:
  struct sigaction previous_ {};
};

}  // namespace infervisor::client
