#include "worker/parent_watch.hpp"

#include <signal.h>
#include <sys/prctl.h>

namespace infervisor::worker {

bool tie_lifetime_to_parent(pid_t supervisor) noexcept {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return false;
  return parent_alive(supervisor);
}

}  // namespace infervisor::worker
