#include "shm/wait.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <ctime>

namespace infervisor::shm {
void futex_wait(std::uint32_t* word, std::uint32_t expected,
                std::chrono::nanoseconds timeout) noexcept {
  if (timeout <= std::chrono::nanoseconds::zero()) return;
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  timespec relative{};
  relative.tv_sec = static_cast<time_t>(seconds.count());
  relative.tv_nsec = static_cast<long>((timeout - seconds).count());
  // Not FUTEX_PRIVATE_FLAG: the word lives in memory shared between processes.
  ::syscall(SYS_futex, word, FUTEX_WAIT, expected, &relative, nullptr, 0);
}

void futex_wake_all(std::uint32_t* word) noexcept {
  ::syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

void Doorbell::ring() noexcept {
  if (slot_ == nullptr) return;
  if (shared(slot_->parked).load(std::memory_order_seq_cst) == 0) return;
  shared(slot_->sequence).fetch_add(1, std::memory_order_release);
  ++wakeups_;
  if (eventfd_ >= 0) {
    const std::uint64_t one = 1;
    // A full eventfd counter (EAGAIN) already means "wake up"; nothing else can fail here.
    [[maybe_unused]] const auto written = ::write(eventfd_, &one, sizeof(one));
  } else {
    futex_wake_all(&slot_->sequence);
  }
}

}  // namespace infervisor::shm
