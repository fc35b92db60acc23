#include "client/interrupt_watch.hpp"

#include <poll.h>
#include <pthread.h>

#include <cerrno>
#include <csignal>

#include "common/error.hpp"

namespace infervisor::client {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void on_sigint(int) {
  g_interrupted = 1;
}

}  // namespace

InterruptWatch::InterruptWatch() {
  g_interrupted = 0;
  struct sigaction action {};
  action.sa_handler = on_sigint;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;  // no SA_RESTART: ppoll and friends return EINTR
  if (::sigaction(SIGINT, &action, &previous_) != 0) {
    throw InfervisorError(system_error("sigaction(SIGINT)"));
  }
}

InterruptWatch::~InterruptWatch() {
  ::sigaction(SIGINT, &previous_, nullptr);
}

bool InterruptWatch::interrupted() const noexcept {
  return g_interrupted != 0;
}

bool InterruptWatch::sleep_for(std::chrono::nanoseconds duration) noexcept {
  using clock = std::chrono::steady_clock;
  sigset_t sigint, previous_mask;
  sigemptyset(&sigint);
  sigaddset(&sigint, SIGINT);
  ::pthread_sigmask(SIG_BLOCK, &sigint, &previous_mask);
  sigset_t while_sleeping = previous_mask;
  sigdelset(&while_sleeping, SIGINT);
  const auto deadline = clock::now() + duration;
  while (g_interrupted == 0) {
    const auto left = deadline - clock::now();
    if (left <= clock::duration::zero()) break;
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(left);
    const timespec timeout{static_cast<time_t>(seconds.count()),
                           static_cast<long>((left - seconds).count())};
    if (::ppoll(nullptr, 0, &timeout, &while_sleeping) < 0 && errno != EINTR) break;
  }
  ::pthread_sigmask(SIG_SETMASK, &previous_mask, nullptr);
  return g_interrupted == 0;
}

}  // namespace infervisor::client
