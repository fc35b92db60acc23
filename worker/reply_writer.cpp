#include "worker/reply_writer.hpp"

#include <chrono>
#include <cstring>

#include "worker/parent_watch.hpp"

namespace infervisor::worker {
namespace {

// How long one wait for room lasts before the worker checks that its supervisor still lives.
constexpr auto kLivenessInterval = std::chrono::seconds(1);

// A cut inside a multi-byte character would leave invalid UTF-8 in the record.
std::string_view cut_utf8(std::string_view text, std::size_t max_bytes) noexcept {
  if (text.size() <= max_bytes) return text;
  std::size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
    --end;
  return text.substr(0, end);
}

}  // namespace

Result<shm::Reservation> ReplyWriter::reserve(shm::RecordType type, std::uint64_t job_id,
                                              std::uint64_t payload_bytes) noexcept {
  while (true) {
    auto reservation =
        ring_.reserve(type, job_id, payload_bytes, policy_, shm::Clock::now() + kLivenessInterval);
    if (reservation || reservation.error().code != ErrorCode::kTimeout) return reservation;
    if (!parent_alive(supervisor_)) {
      return make_error(ErrorCode::kPeerGone,
                        "the supervisor (pid {}) died while the response ring was full",
                        supervisor_);
    }
  }
}

Result<shm::Reservation> ReplyWriter::prepare_error(std::uint64_t job_id, shm::JobErrorKind kind,
                                                    std::string_view message,
                                                    const shm::StageTimes& stages) noexcept {
  const std::string_view text = cut_utf8(message, shm::kMaxErrorMessageBytes);
  auto reservation = reserve(shm::RecordType::kError, job_id, shm::error_payload_bytes(text));
  if (reservation) shm::write_error_payload(reservation->payload, kind, text, stages);
  return reservation;
}

Result<void> ReplyWriter::send(shm::RecordType type, std::uint64_t job_id,
                               std::string_view text) noexcept {
  auto reservation = reserve(type, job_id, text.size());
  if (!reservation) return reservation.error();
  if (!text.empty()) std::memcpy(reservation->payload.data(), text.data(), text.size());
  commit(*reservation);
  return {};
}

}  // namespace infervisor::worker
