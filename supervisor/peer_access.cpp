#include "supervisor/peer_access.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "supervisor/unix_group.hpp"

namespace infervisor::supervisor {

PeerAccess PeerAccess::from_config(const DaemonConfig& config) {
  std::vector<uid_t> uids(config.allow_uids.begin(), config.allow_uids.end());
  std::vector<gid_t> gids;
  for (std::size_t i = 0; i < config.allow_groups.size(); ++i) {
    gids.push_back(
        resolve_group(config.allow_groups[i], config.source, fmt::format("allow_groups[{}]", i)));
  }
  return PeerAccess(std::move(uids), std::move(gids));
}

bool PeerAccess::allows_uid(uid_t uid) const noexcept {
  return everyone() || uid == 0 || std::find(uids_.begin(), uids_.end(), uid) != uids_.end();
}

std::optional<std::string> PeerAccess::refusal(uid_t uid, gid_t gid,
                                               std::span<const gid_t> groups) const {
  if (allows_uid(uid)) return std::nullopt;
  const auto listed = [&](gid_t group) {
    return std::find(gids_.begin(), gids_.end(), group) != gids_.end();
  };
  if (listed(gid) || std::any_of(groups.begin(), groups.end(), listed)) return std::nullopt;
  return fmt::format(
      "uid {} may not use this socket: it is not in allow_uids and none of its "
      "groups is in allow_groups",
      uid);
}

}  // namespace infervisor::supervisor
