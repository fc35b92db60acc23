#include "worker/serve_loop.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>

#include "worker/parent_watch.hpp"

namespace infervisor::worker {
namespace {

// An idle worker wakes this often to check that its supervisor still lives.
constexpr auto kLivenessInterval = std::chrono::seconds(1);

}  // namespace

ExitStatus serve(ServeContext& context) {
  while (true) {
    const auto record =
        context.requests.peek(context.policy, shm::Clock::now() + kLivenessInterval);
    if (!record) {
      if (record.error().code != ErrorCode::kTimeout) {
        spdlog::error("{}: the request ring is corrupt: {}", context.who, record.error().message);
        return ExitStatus::kChannelCorrupt;
      }
      if (!parent_alive(context.supervisor)) {
        spdlog::error("{}: the supervisor (pid {}) is gone; exiting", context.who,
                      context.supervisor);
        return ExitStatus::kSupervisorGone;
      }
      continue;
    }
    switch (record->type) {
      case shm::RecordType::kRequest:
        if (const auto stop = context.jobs.handle_request(*record)) return *stop;
        if (context.after_job) context.after_job();
        break;
      case shm::RecordType::kShutdown: {
        context.requests.release(*record);
        if (const auto sent =
                context.replies.send(shm::RecordType::kShutdownAck, record->job_id, {});
            !sent) {
          spdlog::error("{}: cannot acknowledge the shutdown: {}", context.who,
                        sent.error().message);
          return sent.error().code == ErrorCode::kPeerGone ? ExitStatus::kSupervisorGone
                                                           : ExitStatus::kChannelCorrupt;
        }
        spdlog::info("{}: shut down on request", context.who);
        return ExitStatus::kShutdown;
      }
      case shm::RecordType::kReleaseRegions: {
        // No job uses these regions any more (every job that did came before, FIFO).
        const auto payload = record->payload;
        if (payload.size() % sizeof(std::uint64_t) != 0) {
          spdlog::error("{}: a RELEASE_REGIONS record of {} bytes is not a list of tokens",
                        context.who, payload.size());
        } else {
          for (std::size_t at = 0; at < payload.size(); at += sizeof(std::uint64_t)) {
            std::uint64_t token = 0;
            std::memcpy(&token, payload.data() + at, sizeof(token));
            context.regions.release(token);
          }
        }
        context.requests.release(*record);
        break;
      }
      default: {
        const auto message = fmt::format(
            "a {} record arrived on the request ring, which carries "
            "only REQUEST, RELEASE_REGIONS and SHUTDOWN records",
            shm::record_type_name(record->type));
        if (const auto stop = context.jobs.reject(*record, shm::JobErrorKind::kInternal, message)) {
          return *stop;
        }
      }
    }
  }
}

}  // namespace infervisor::worker
