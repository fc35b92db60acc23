#include "supervisor/shm_space.hpp"

#include <fmt/format.h>
#include <sys/statvfs.h>

#include "common/error.hpp"
#include "shm/segment.hpp"

namespace infervisor::supervisor {
namespace {

double mib(std::uint64_t bytes) {
  return static_cast<double>(bytes) / (1024.0 * 1024.0);
}

}  // namespace

std::uint64_t shm_bytes_needed(const DaemonConfig& config) {
  std::uint64_t total = 0;
  for (const auto& model : config.models) {
    const auto per_worker = shm::segment_bytes_for({model.ring_bytes, model.ring_bytes}).value();
    total += per_worker * static_cast<std::uint64_t>(total_instances(model));
  }
  return total;
}

void check_shm_space(const DaemonConfig& config, const std::filesystem::path& folder) {
  struct statvfs stats {};
  if (::statvfs(folder.c_str(), &stats) != 0) {
    throw InfervisorError(system_error(fmt::format("statvfs({})", folder.string())));
  }
  const std::uint64_t free_bytes = static_cast<std::uint64_t>(stats.f_bavail) * stats.f_frsize;
  const std::uint64_t needed = shm_bytes_needed(config);
  if (needed > free_bytes) {
    throw InfervisorError(
        ErrorCode::kTooLarge,
        fmt::format("{}: the workers' shared-memory segments need {:.1f} MiB in {} but only {:.1f} "
                    "MiB are free; lower ring_size or instances, or enlarge {}",
                    config.source.string(), mib(needed), folder.string(), mib(free_bytes),
                    folder.string()));
  }
}

}  // namespace infervisor::supervisor
