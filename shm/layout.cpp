#include "shm/layout.hpp"

namespace infervisor::shm {

bool is_known_record_type(std::uint32_t raw) noexcept {
  return raw >= static_cast<std::uint32_t>(RecordType::kRequest) &&
         raw <= static_cast<std::uint32_t>(RecordType::kReleaseRegions);
}

const char* record_type_name(RecordType type) noexcept {
  switch (type) {
    case RecordType::kRequest:
      return "REQUEST";
    case RecordType::kResponse:
      return "RESPONSE";
    case RecordType::kError:
      return "ERROR";
    case RecordType::kShutdown:
      return "SHUTDOWN";
    case RecordType::kShutdownAck:
      return "SHUTDOWN_ACK";
    case RecordType::kReady:
      return "READY";
    case RecordType::kPadding:
      return "PADDING";
    case RecordType::kReleaseRegions:
      return "RELEASE_REGIONS";
  }
  return "UNKNOWN";
}

}  // namespace infervisor::shm
