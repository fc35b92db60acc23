#include "supervisor/unix_group.hpp"

#include <grp.h>

#include <cerrno>
#include <charconv>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace infervisor::supervisor {

std::optional<gid_t> find_group(std::string_view name_or_number) {
  if (name_or_number.empty()) return std::nullopt;
  gid_t number = 0;
  const auto* end = name_or_number.data() + name_or_number.size();
  const auto [at, ec] = std::from_chars(name_or_number.data(), end, number);
  if (ec == std::errc{} && at == end) return number;
  const std::string name(name_or_number);
  std::vector<char> scratch(1024);
  for (;;) {
    group entry{};
    group* found = nullptr;
    const int error = ::getgrnam_r(name.c_str(), &entry, scratch.data(), scratch.size(), &found);
    if (error == ERANGE && scratch.size() < (1u << 20)) {
      scratch.resize(scratch.size() * 2);  // a group with many members
      continue;
    }
    if (error != 0 || !found) return std::nullopt;
    return found->gr_gid;
  }
}

gid_t resolve_group(std::string_view name_or_number, const std::filesystem::path& config,
                    std::string_view key) {
  if (const auto gid = find_group(name_or_number)) return *gid;
  throw InfervisorError(ErrorCode::kInvalidArgument,
                        fmt::format("{}: {}: no group named '{}' (a group name or a number)",
                                    config.string(), key, name_or_number));
}

}  // namespace infervisor::supervisor
