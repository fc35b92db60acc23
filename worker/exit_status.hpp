// infervisor-worker's exit statuses: the supervisor logs them when it reaps a worker.
#pragma once

namespace infervisor::worker {

enum class ExitStatus : int {
  kShutdown = 0,        // answered everything before the SHUTDOWN record, then acknowledged it
  kSupervisorGone = 1,  // the supervisor died (or had died before the worker started)
  kNoChannel = 2,       // unusable command line or segment: nothing could be reported
  kStartupFailed = 3,   // a start-up ERROR record says why
  kChannelCorrupt = 4,  // the supervisor's side of the rings failed validation
  kInternalError = 5,   // an unexpected exception, logged
  kDeviceFault = 6,     // a sticky device error (CUDA): a job-0 ERROR record says which
};

constexpr int exit_code(ExitStatus status) noexcept {
  return static_cast<int>(status);
}

}  // namespace infervisor::worker
