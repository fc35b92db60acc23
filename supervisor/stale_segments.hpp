// Segments a killed daemon left behind. A SIGKILLed infervisord cannot unlink its segments, and
// each holds its rings' memory in /dev/shm until someone does; the next daemon with the same
// prefix removes those whose creator is gone before it counts free space.
#pragma once

#include <filesystem>
#include <string_view>
#include <vector>

namespace infervisor::supervisor {

// Unlinks "<prefix>.<pid>.<suffix>" entries of `folder` whose pid is not a live process, and
// returns their names. Leaves everything else alone (other prefixes, live daemons' segments).
std::vector<std::string> remove_stale_segments(std::string_view prefix,
                                               const std::filesystem::path& folder = "/dev/shm");

}  // namespace infervisor::supervisor
