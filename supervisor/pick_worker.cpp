#include "supervisor/pick_worker.hpp"

namespace infervisor::supervisor {

std::optional<std::size_t> pick_worker(std::span<const WorkerLoad> workers) noexcept {
  std::optional<std::size_t> best;
  for (std::size_t i = 0; i < workers.size(); ++i) {
    const auto& worker = workers[i];
    if (!worker.accepting || worker.outstanding >= worker.limit) continue;
    if (!best || worker.outstanding < workers[*best].outstanding) best = i;
  }
  return best;
}

}  // namespace infervisor::supervisor
