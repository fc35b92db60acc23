#include "supervisor/stale_segments.hpp"

#include <signal.h>

#include <cerrno>
#include <charconv>
#include <string>

#include "shm/segment.hpp"

namespace infervisor::supervisor {
namespace {

// The creator's pid from "<prefix>.<pid>.<suffix>", if the name has that form.
std::optional<pid_t> creator_of(std::string_view name, std::string_view prefix) {
  if (!name.starts_with(prefix) || name.size() <= prefix.size() || name[prefix.size()] != '.') {
    return std::nullopt;
  }
  const std::string_view rest = name.substr(prefix.size() + 1);
  const auto dot = rest.find('.');
  if (dot == std::string_view::npos || dot == 0) return std::nullopt;
  pid_t pid = 0;
  const auto [end, ec] = std::from_chars(rest.data(), rest.data() + dot, pid);
  if (ec != std::errc{} || end != rest.data() + dot || pid <= 0) return std::nullopt;
  return pid;
}

bool alive(pid_t pid) {
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

}  // namespace

std::vector<std::string> remove_stale_segments(std::string_view prefix,
                                               const std::filesystem::path& folder) {
  std::vector<std::string> removed;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    const auto pid = creator_of(name, prefix);
    if (!pid || alive(*pid)) continue;
    shm::ShmName(name).unlink();
    removed.push_back(name);
  }
  return removed;
}

}  // namespace infervisor::supervisor
