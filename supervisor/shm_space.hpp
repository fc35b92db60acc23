// The start-up check that /dev/shm can hold every worker's segment: segments have fixed sizes,
// so a shortage is found before any worker starts, not as a failure under load.
#pragma once

#include <filesystem>

#include "supervisor/config.hpp"

namespace infervisor::supervisor {

// Bytes all segments of `config` take together.
std::uint64_t shm_bytes_needed(const DaemonConfig& config);

// Throws InfervisorError saying how much is needed and how much `folder` has free.
void check_shm_space(const DaemonConfig& config, const std::filesystem::path& folder = "/dev/shm");

}  // namespace infervisor::supervisor
