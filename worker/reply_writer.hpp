// The worker's end of the response ring: every record it sends to the supervisor goes through
// here. A full ring is waited out for as long as the supervisor lives; a dead supervisor ends the
// wait (kPeerGone) so the worker can exit instead of blocking forever.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string_view>

#include "common/error.hpp"
#include "shm/frame.hpp"
#include "shm/ring.hpp"

namespace infervisor::worker {

class ReplyWriter {
 public:
  ReplyWriter(shm::RingWriter& ring, const shm::SpinPolicy& policy, pid_t supervisor) noexcept
      : ring_(ring), policy_(policy), supervisor_(supervisor) {}

  // Room for one record, waiting while the ring is full. Errors: kTooLarge (it can never fit),
  // kPeerGone (the supervisor died while we waited), kCorrupt (the supervisor's index is bad).
  Result<shm::Reservation> reserve(shm::RecordType type, std::uint64_t job_id,
                                   std::uint64_t payload_bytes) noexcept;

  // Reserves and fills an ERROR record; the caller commits it. The message is cut to
  // shm::kMaxErrorMessageBytes on a UTF-8 character boundary.
  Result<shm::Reservation> prepare_error(std::uint64_t job_id, shm::JobErrorKind kind,
                                         std::string_view message,
                                         const shm::StageTimes& stages = {}) noexcept;

  // Reserves, fills with `text` (may be empty) and commits a record in one go.
  Result<void> send(shm::RecordType type, std::uint64_t job_id, std::string_view text) noexcept;

  void commit(const shm::Reservation& reservation) noexcept { ring_.commit(reservation); }
  std::uint64_t max_payload_bytes() const noexcept { return ring_.max_payload_bytes(); }

 private:
  shm::RingWriter& ring_;
  shm::SpinPolicy policy_;
  pid_t supervisor_;
};

}  // namespace infervisor::worker
