// Who may use the Unix socket beyond what its file's mode and group allow: allow_uids and
// allow_groups. Root is always allowed; with both lists empty, everyone who can open the file is.
// Pure: the caller gives the peer's credentials (peer_credentials.hpp); tested without a socket.
#pragma once

#include <sys/types.h>

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "supervisor/config.hpp"

namespace infervisor::supervisor {

class PeerAccess {
 public:
  PeerAccess() = default;  // everyone
  PeerAccess(std::vector<uid_t> uids, std::vector<gid_t> gids)
      : uids_(std::move(uids)), gids_(std::move(gids)) {}
  // allow_uids, and allow_groups resolved by name or number: InfervisorError
  // "CONFIG: allow_groups[i]: no group named 'x'" for an unknown one.
  static PeerAccess from_config(const DaemonConfig& config);

  bool everyone() const noexcept { return uids_.empty() && gids_.empty(); }
  // Whether `uid` is allowed whatever its groups (root, listed, or no lists at all).
  bool allows_uid(uid_t uid) const noexcept;
  // Why the peer may not use the socket, for its 403 and the log; nullopt if it may.
  // `groups`: its supplementary groups (its primary `gid` counts too).
  std::optional<std::string> refusal(uid_t uid, gid_t gid, std::span<const gid_t> groups) const;

 private:
  std::vector<uid_t> uids_;
  std::vector<gid_t> gids_;
};

}  // namespace infervisor::supervisor
