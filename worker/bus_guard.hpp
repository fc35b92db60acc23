// A client's shared-memory object can be shrunk (ftruncate) while a worker has it mapped; any
// read or write of the pages that are gone raises SIGBUS, in the serving thread or in one of
// libtorch's. A size check per job cannot close that race, so the worker catches the fault: a
// SIGBUS inside a watched range maps zero pages over the whole range (reads then see zeros,
// writes go nowhere), marks the range, and returns, so the instruction runs again and succeeds.
// The job that used the range is then failed (JobHandler asks faulted()) and the range dropped.
// A SIGBUS anywhere else still ends the worker, as it would without the guard.
//
// The handler is async-signal-safe: a fixed table of atomics and one mmap(2).
#pragma once

#include <cstddef>
#include <span>

namespace infervisor::worker::bus_guard {

inline constexpr int kMaxWatched = 256;

// Installs the SIGBUS handler (once; later calls do nothing).
void install();

// Starts watching `range`; -1 when the table is full (the range is then unguarded).
int watch(std::span<std::byte> range) noexcept;
// Stops watching (before the range is unmapped).
void unwatch(int slot) noexcept;
// True once a fault hit the range since watch().
bool faulted(int slot) noexcept;

}  // namespace infervisor::worker::bus_guard
