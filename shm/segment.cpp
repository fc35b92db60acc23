#include "shm/segment.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <cstring>
#include <limits>
#include <random>

namespace infervisor::shm {
namespace bip = boost::interprocess;
namespace {

constexpr std::uint64_t kControlBytes = kPageBytes;  // a RingControl, alone on its page

static_assert(sizeof(SegmentHeader) <= kPageBytes);
static_assert(sizeof(RingControl) <= kControlBytes);

std::optional<std::uint64_t> page_round(std::uint64_t bytes) noexcept {
  std::uint64_t rounded = 0;
  if (__builtin_add_overflow(bytes, kPageBytes - 1, &rounded)) return std::nullopt;
  return rounded & ~(kPageBytes - 1);
}

bool valid_prefix(std::string_view prefix) noexcept {
  if (prefix.empty() || prefix.size() > 32) return false;
  for (const char c : prefix) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// getrandom(2) on Linux: names and commit keys must not be guessable.
std::uint64_t random_key() {
  std::random_device entropy;
  return (std::uint64_t{entropy()} << 32) | entropy();
}

std::string random_suffix() {
  return fmt::format("{:016x}{:016x}", random_key(), random_key());
}

struct Placements {
  RingPlacement request;
  RingPlacement response;
  std::uint64_t total;
};

std::optional<Placements> place(const SegmentLayout& layout) noexcept {
  const auto request = page_round(layout.request_ring_bytes);
  const auto response = page_round(layout.response_ring_bytes);
  if (!request || !response) return std::nullopt;
  Placements out{};
  std::uint64_t cursor = kPageBytes;                            // the header's page
  out.request = {cursor, cursor + kControlBytes, *request, 0};  // keys: set by create()
  if (__builtin_add_overflow(out.request.data_offset, *request, &cursor)) return std::nullopt;
  out.response = {cursor, cursor + kControlBytes, *response, 0};
  if (__builtin_add_overflow(out.response.data_offset, *response, &cursor)) return std::nullopt;
  out.total = cursor;
  return out;
}

// Checks one ring's placement read from a peer's header.
Result<void> check_placement(std::string_view name, std::string_view which,
                             const RingPlacement& ring, std::uint64_t segment_bytes) noexcept {
  std::uint64_t end = 0;
  // data_offset - control_offset, not control_offset + kControlBytes: a huge control_offset must
  // not wrap around to pass.
  const bool bad = ring.control_offset % kPageBytes != 0 || ring.data_offset % kPageBytes != 0 ||
                   ring.capacity % kPageBytes != 0 || ring.capacity < kMinRingBytes ||
                   ring.control_offset < kPageBytes || ring.data_offset < ring.control_offset ||
                   ring.data_offset - ring.control_offset < kControlBytes ||
                   __builtin_add_overflow(ring.data_offset, ring.capacity, &end) ||
                   end > segment_bytes;
  if (bad) {
    return make_error(ErrorCode::kCorrupt,
                      "segment '{}' {} ring placement (control at {}, data at {}, {} bytes) does "
                      "not fit a {}-byte segment",
                      name, which, ring.control_offset, ring.data_offset, ring.capacity,
                      segment_bytes);
  }
  return {};
}

// The opener's RingReader and RingWriter start from these positions without re-checking them: a
// misaligned one would make them read or write a record header across the end of the mapping.
Result<void> check_positions(std::string_view name, std::string_view which, RingControl& control,
                             std::uint64_t capacity) noexcept {
  const std::uint64_t read = shared(control.read_position).load(std::memory_order_acquire);
  const std::uint64_t write = shared(control.write_position).load(std::memory_order_acquire);
  if (read % kRecordAlignment != 0 || write % kRecordAlignment != 0 || write < read ||
      write - read > capacity) {
    return make_error(ErrorCode::kCorrupt,
                      "segment '{}' {} ring positions (read {}, write {}) are misaligned or not "
                      "within {} bytes of each other",
                      name, which, read, write, capacity);
  }
  return {};
}

}  // namespace

ShmName& ShmName::operator=(ShmName&& other) noexcept {
  if (this != &other) {
    unlink();
    name_ = std::exchange(other.name_, {});
  }
  return *this;
}

void ShmName::unlink() noexcept {
  if (!name_.empty()) {
    bip::shared_memory_object::remove(name_.c_str());
    name_.clear();
  }
}

Result<std::uint64_t> segment_bytes_for(const SegmentLayout& layout) noexcept {
  const auto placements = place(layout);
  if (!placements) {
    return make_error(ErrorCode::kInvalidArgument, "ring sizes {} and {} overflow a segment",
                      layout.request_ring_bytes, layout.response_ring_bytes);
  }
  return placements->total;
}

Result<Segment> Segment::create(std::string_view prefix, const SegmentLayout& layout,
                                std::uint64_t generation) noexcept {
  if (!valid_prefix(prefix)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "segment prefix '{}' must be 1-32 characters of [A-Za-z0-9_-]", prefix);
  }
  const auto placements = place(layout);
  if (!placements || placements->request.capacity < kMinRingBytes ||
      placements->response.capacity < kMinRingBytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      "ring sizes must be at least {} bytes each (got {} and {})", kMinRingBytes,
                      layout.request_ring_bytes, layout.response_ring_bytes);
  }
  Segment segment;
  try {
    segment.name_ = fmt::format("{}.{}.{}", prefix, ::getpid(), random_suffix());
    bip::permissions owner_only;
    owner_only.set_permissions(0600);
    bip::shared_memory_object object(bip::create_only, segment.name_.c_str(), bip::read_write,
                                     owner_only);
    segment.owned_name_ = ShmName(segment.name_);
    // Back every page now: tmpfs hands out pages lazily, and a later write into a page it cannot
    // supply kills the writer with SIGBUS. Here it is a clear error instead.
    const int fd = object.get_mapping_handle().handle;
    if (const int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(placements->total)); rc != 0) {
      return make_error(ErrorCode::kSystem,
                        "cannot reserve {} bytes for shared-memory segment '{}' in /dev/shm: {}",
                        placements->total, segment.name_, std::strerror(rc));
    }
    segment.region_ = bip::mapped_region(object, bip::read_write, 0, placements->total);
  } catch (const bip::interprocess_exception& error) {
    return make_error(ErrorCode::kSystem, "cannot create shared-memory segment '{}': {}",
                      segment.name_, error.what());
  }

  auto* base = static_cast<std::byte*>(segment.region_.get_address());
  auto& header = *reinterpret_cast<SegmentHeader*>(base);
  header.magic = kSegmentMagic;
  header.layout_version = kLayoutVersion;
  header.header_bytes = sizeof(SegmentHeader);
  header.segment_bytes = placements->total;
  header.generation = generation;
  header.creator_pid = ::getpid();
  header.request = placements->request;
  header.response = placements->response;
  header.request.commit_key = random_key();
  header.response.commit_key = random_key();
  initialize_ring(*reinterpret_cast<RingControl*>(base + header.request.control_offset));
  initialize_ring(*reinterpret_cast<RingControl*>(base + header.response.control_offset));
  segment.header_ = header;
  shared(header.state)
      .store(static_cast<std::uint32_t>(SegmentState::kReady), std::memory_order_release);
  return segment;
}

Result<Segment> Segment::open(std::string_view name, const SegmentExpectation& expected) noexcept {
  Segment segment;
  segment.name_ = std::string(name);
  std::uint64_t actual_bytes = 0;
  try {
    bip::shared_memory_object object(bip::open_only, segment.name_.c_str(), bip::read_write);
    bip::offset_t size = 0;
    if (!object.get_size(size) || size < static_cast<bip::offset_t>(kPageBytes)) {
      return make_error(ErrorCode::kCorrupt,
                        "shared-memory segment '{}' is {} bytes, smaller than its header page",
                        name, size);
    }
    actual_bytes = static_cast<std::uint64_t>(size);
    segment.region_ = bip::mapped_region(object, bip::read_write);
  } catch (const bip::interprocess_exception& error) {
    return make_error(ErrorCode::kPeerGone, "cannot open shared-memory segment '{}': {}", name,
                      error.what());
  }

  auto* base = static_cast<std::byte*>(segment.region_.get_address());
  auto& live = *reinterpret_cast<SegmentHeader*>(base);
  if (shared(live.state).load(std::memory_order_acquire) !=
      static_cast<std::uint32_t>(SegmentState::kReady)) {
    return make_error(ErrorCode::kCorrupt,
                      "segment '{}' is not initialized: its creator died while building it", name);
  }
  std::memcpy(&segment.header_, &live, sizeof(SegmentHeader));
  const SegmentHeader& header = segment.header_;
  if (header.magic != kSegmentMagic) {
    return make_error(ErrorCode::kCorrupt,
                      "segment '{}' is not an infervisor segment (magic {:#x})", name,
                      header.magic);
  }
  if (header.layout_version != kLayoutVersion || header.header_bytes != sizeof(SegmentHeader)) {
    return make_error(ErrorCode::kCorrupt,
                      "segment '{}' has layout version {} ({}-byte header); this build speaks "
                      "version {} ({}-byte header)",
                      name, header.layout_version, header.header_bytes, kLayoutVersion,
                      sizeof(SegmentHeader));
  }
  if (header.segment_bytes != actual_bytes) {
    return make_error(ErrorCode::kCorrupt, "segment '{}' header says {} bytes but it is {} bytes",
                      name, header.segment_bytes, actual_bytes);
  }
  if (expected.creator_pid && header.creator_pid != *expected.creator_pid) {
    return make_error(ErrorCode::kPeerGone,
                      "segment '{}' was created by pid {}, not by the expected supervisor pid {}",
                      name, header.creator_pid, *expected.creator_pid);
  }
  if (header.generation != expected.generation) {
    return make_error(ErrorCode::kPeerGone,
                      "segment '{}' is stale: generation {} but this worker belongs to "
                      "generation {}",
                      name, header.generation, expected.generation);
  }
  // Range-checked before the cast: a truncated value could name a live stranger, and a negative
  // pid_t a whole process group.
  if (header.creator_pid <= 0 || header.creator_pid > std::numeric_limits<pid_t>::max() ||
      (::kill(static_cast<pid_t>(header.creator_pid), 0) != 0 && errno == ESRCH)) {
    return make_error(ErrorCode::kPeerGone, "segment '{}' is stale: its creator pid {} is gone",
                      name, header.creator_pid);
  }
  if (auto ok = check_placement(name, "request", header.request, header.segment_bytes); !ok) {
    return ok.error();
  }
  if (auto ok = check_placement(name, "response", header.response, header.segment_bytes); !ok) {
    return ok.error();
  }
  const bool overlap =
      header.request.control_offset < header.response.data_offset + header.response.capacity &&
      header.response.control_offset < header.request.data_offset + header.request.capacity;
  if (overlap) {
    return make_error(ErrorCode::kCorrupt, "segment '{}' has overlapping rings", name);
  }
  for (const auto& [which, placement] :
       {std::pair{"request", header.request}, std::pair{"response", header.response}}) {
    auto& control = *reinterpret_cast<RingControl*>(base + placement.control_offset);
    if (auto ok = check_positions(name, which, control, placement.capacity); !ok) {
      return ok.error();
    }
  }
  return segment;
}

void Segment::report_device_bytes(std::uint64_t bytes) noexcept {
  auto& live = *static_cast<SegmentHeader*>(region_.get_address());
  shared(live.worker_device_bytes).store(bytes, std::memory_order_relaxed);
}

std::uint64_t Segment::reported_device_bytes() const noexcept {
  auto& live = *static_cast<SegmentHeader*>(region_.get_address());
  return shared(live.worker_device_bytes).load(std::memory_order_relaxed);
}

RingView Segment::ring_view(const RingPlacement& placement) const noexcept {
  auto* base = static_cast<std::byte*>(region_.get_address());
  return RingView{reinterpret_cast<RingControl*>(base + placement.control_offset),
                  base + placement.data_offset, placement.capacity, placement.commit_key};
}

}  // namespace infervisor::shm
