// The worker lives only as long as the supervisor that spawned it.
#pragma once

#include <sys/types.h>
#include <unistd.h>

namespace infervisor::worker {

// Asks the kernel to SIGKILL this process when its parent dies, then checks that the parent is
// still `supervisor`: had it died before the request, the worker was re-parented and no signal
// will come. False means the supervisor is gone (or prctl failed) and the worker should exit.
//
// Linux sends the signal when the *thread* that spawned the worker exits, not the process: the
// supervisor must spawn workers from a thread that lives as long as it does.
bool tie_lifetime_to_parent(pid_t supervisor) noexcept;

// Polled while idle and while waiting for room: a re-parented worker has lost its supervisor.
inline bool parent_alive(pid_t supervisor) noexcept {
  return ::getppid() == supervisor;
}

}  // namespace infervisor::worker
