#include "worker/bus_guard.hpp"

#include <signal.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <mutex>

namespace infervisor::worker::bus_guard {
namespace {

struct Slot {
  std::atomic<std::uintptr_t> begin{0};
  std::atomic<std::uintptr_t> end{0};  // 0: free
  std::atomic<bool> faulted{false};
};

Slot slots[kMaxWatched];
// Serializes watch/unwatch (the serving thread only, in practice); never taken by the handler.
std::mutex table_mutex;

void on_bus_error(int signal, siginfo_t* info, void*) {
  const auto address = reinterpret_cast<std::uintptr_t>(info->si_addr);
  // Only a fault on memory has an address to judge (si_code > 0); a SIGBUS sent by kill() ends
  // the worker as it would without the guard.
  for (auto& slot : slots) {
    if (info->si_code <= 0) break;
    const auto end = slot.end.load(std::memory_order_acquire);
    const auto begin = slot.begin.load(std::memory_order_acquire);
    // (unwatch clears `end` first, then `begin`: a half-cleared slot never matches.)
    if (end == 0 || begin == 0 || address < begin || address >= end) continue;
    void* replaced = ::mmap(reinterpret_cast<void*>(begin), end - begin, PROT_READ | PROT_WRITE,
                            MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (replaced != MAP_FAILED) {
      slot.faulted.store(true, std::memory_order_release);
      return;  // the faulting instruction runs again, on zero pages
    }
    break;
  }
  // Not ours (or the range could not be replaced): die of it, as without the guard. (A fault
  // runs again on return and meets the default action; a sent signal is raised again.)
  ::signal(signal, SIG_DFL);
  if (info->si_code <= 0) ::raise(signal);
}

}  // namespace

void install() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_sigaction = on_bus_error;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGBUS, &action, nullptr);
  });
}

int watch(std::span<std::byte> range) noexcept {
  const std::lock_guard lock(table_mutex);
  for (int i = 0; i < kMaxWatched; ++i) {
    Slot& slot = slots[i];
    if (slot.end.load(std::memory_order_relaxed) != 0) continue;
    slot.faulted.store(false, std::memory_order_relaxed);
    slot.begin.store(reinterpret_cast<std::uintptr_t>(range.data()), std::memory_order_release);
    slot.end.store(reinterpret_cast<std::uintptr_t>(range.data() + range.size()),
                   std::memory_order_release);
    return i;
  }
  return -1;
}

void unwatch(int slot) noexcept {
  if (slot < 0 || slot >= kMaxWatched) return;
  const std::lock_guard lock(table_mutex);
  slots[slot].end.store(0, std::memory_order_release);
  slots[slot].begin.store(0, std::memory_order_release);
}

bool faulted(int slot) noexcept {
  return slot >= 0 && slot < kMaxWatched && slots[slot].faulted.load(std::memory_order_acquire);
}

}  // namespace infervisor::worker::bus_guard
