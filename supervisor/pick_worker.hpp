// Which worker gets a model's next job. Pure: no processes, no rings, so it is unit-tested alone.
#pragma once

#include <cstddef>
#include <optional>
#include <span>

namespace infervisor::supervisor {

struct WorkerLoad {
  bool accepting = false;       // ready, alive, and its request ring had room at last look
  std::size_t outstanding = 0;  // jobs written to its ring and not yet answered
  std::size_t limit = 1;        // the model's max_inflight per worker
};

// The accepting worker with the fewest outstanding jobs below its limit; ties go to the lowest
// index, so that at low load one worker stays warm (and spinning) instead of all of them going
// cold in turn. nullopt: every worker is busy or unavailable, and the job waits in the queue.
std::optional<std::size_t> pick_worker(std::span<const WorkerLoad> workers) noexcept;

}  // namespace infervisor::supervisor
