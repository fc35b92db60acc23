// Spin-then-park waiting on a WaitSlot in shared memory, and the Doorbell that wakes a parked peer.
//
// Protocol (a Dekker pair, both sides sequentially consistent):
//   waiter:    parked = 1;  if (!ready()) sleep on `sequence`;  parked = 0
//   notifier:  publish the data (seq_cst);  if (parked) { ++sequence; wake }
// Either the waiter sees the data before it sleeps, or the notifier sees `parked` and wakes it:
// a wake-up is never lost, and when nobody is parked the notifier makes no system call.
// The sleeping side uses a futex on `sequence` (blocking processes) or an eventfd that an event
// loop polls (the supervisor); the Doorbell is told which at construction.
#pragma once

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "shm/layout.hpp"

namespace infervisor::shm {

using Clock = std::chrono::steady_clock;

struct SpinPolicy {
  // How long a side with nothing to do keeps polling before it parks. A parked wake-up costs
  // ~70-90 us on the 2-core build VM and a spinning peer answers in ~0.5 us, so under load a
  // budget of tens of microseconds keeps the channel off the system-call path.
  std::chrono::nanoseconds spin = std::chrono::microseconds(50);
  // The longest single sleep; a parked waiter wakes at least this often to let its caller check
  // that the peer is still alive.
  std::chrono::nanoseconds max_park = std::chrono::milliseconds(100);
};

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Sleeps while `*word == expected`, at most `timeout`. Returns early on a wake, a signal, or when
// the word already differs; callers re-check their condition either way.
void futex_wait(std::uint32_t* word, std::uint32_t expected,
                std::chrono::nanoseconds timeout) noexcept;
void futex_wake_all(std::uint32_t* word) noexcept;

enum class WaitOutcome { kReady, kTimedOut };

// How many pause instructions between two looks at the clock and two sched_yield calls: on a
// machine with fewer cores than busy processes, a spinner that never yields would keep the very
// peer it waits for off the CPU.
inline constexpr int kRelaxesPerClockCheck = 64;

// Polls `ready` for up to policy.spin, then parks on `slot` until `ready` holds or `deadline`
// passes. `ready` must be cheap and must read the published state with seq_cst order: it is the
// waiter's load in the Dekker pair above, and an acquire load may be ordered before the store of
// `parked` (ldapr after stlr on AArch64), which would lose a wake-up.
template <class Ready>
WaitOutcome wait_until(WaitSlot& slot, Ready&& ready, const SpinPolicy& policy,
                       Clock::time_point deadline) {
  if (ready()) return WaitOutcome::kReady;
  if (policy.spin > std::chrono::nanoseconds::zero()) {
    const auto spin_end = std::min(deadline, Clock::now() + policy.spin);
    while (true) {
      for (int i = 0; i < kRelaxesPerClockCheck; ++i) {
        if (ready()) return WaitOutcome::kReady;
        cpu_relax();
      }
      if (Clock::now() >= spin_end) break;
      ::sched_yield();
    }
  }
  while (true) {
    const std::uint32_t sequence = shared(slot.sequence).load(std::memory_order_acquire);
    shared(slot.parked).store(1, std::memory_order_seq_cst);
    const bool is_ready = ready();
    const auto now = Clock::now();
    if (is_ready || now >= deadline) {
      shared(slot.parked).store(0, std::memory_order_relaxed);
      return is_ready ? WaitOutcome::kReady : WaitOutcome::kTimedOut;
    }
    futex_wait(&slot.sequence, sequence,
               std::min<std::chrono::nanoseconds>(deadline - now, policy.max_park));
    shared(slot.parked).store(0, std::memory_order_relaxed);
    if (ready()) return WaitOutcome::kReady;
  }
}

// For a waiter that sleeps in an event loop instead of a futex: announce the intent to sleep.
// Returns false (and stays unparked) if `ready` already holds, so the caller must not sleep.
template <class Ready>
bool arm_parking(WaitSlot& slot, Ready&& ready) noexcept {
  shared(slot.parked).store(1, std::memory_order_seq_cst);
  if (ready()) {
    shared(slot.parked).store(0, std::memory_order_relaxed);
    return false;
  }
  return true;
}

inline void disarm_parking(WaitSlot& slot) noexcept {
  shared(slot.parked).store(0, std::memory_order_relaxed);
}

// The notifying side's handle on one peer's WaitSlot. Process-local; cheap to copy.
class Doorbell {
 public:
  Doorbell() = default;
  // eventfd < 0: wake with a futex; otherwise write to that eventfd (whose reader sleeps in epoll).
  Doorbell(WaitSlot* slot, int eventfd) noexcept : slot_(slot), eventfd_(eventfd) {}

  // Call after publishing. Makes a system call only if the peer is parked.
  void ring() noexcept;

  // Wake-up system calls made so far; benchmarks report it per message.
  std::uint64_t wakeups() const noexcept { return wakeups_; }

 private:
  WaitSlot* slot_ = nullptr;
  int eventfd_ = -1;
  std::uint64_t wakeups_ = 0;
};

}  // namespace infervisor::shm
