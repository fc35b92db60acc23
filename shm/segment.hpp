// One worker's channel memory: a named POSIX shared-memory segment holding a header and two rings.
// The supervisor creates it (and owns the name: it unlinks it on destruction); the worker opens
// it by name and validates every header field before trusting a byte of it.
#pragma once

#include <sys/types.h>

#include <boost/interprocess/mapped_region.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "shm/layout.hpp"
#include "shm/ring.hpp"

namespace infervisor::shm {

// The smallest ring we build: room for a useful frame, and a multiple of the page size.
inline constexpr std::uint64_t kMinRingBytes = 64 * 1024;

struct SegmentLayout {
  std::uint64_t request_ring_bytes = 0;   // rounded up to a whole page
  std::uint64_t response_ring_bytes = 0;  // rounded up to a whole page
};

// Total bytes a segment with `layout` takes in /dev/shm, for the start-up space check.
Result<std::uint64_t> segment_bytes_for(const SegmentLayout& layout) noexcept;

// A shared-memory name this process created; unlinks it on destruction.
class ShmName {
 public:
  ShmName() = default;
  explicit ShmName(std::string name) noexcept : name_(std::move(name)) {}
  ShmName(ShmName&& other) noexcept : name_(std::exchange(other.name_, {})) {}
  ShmName& operator=(ShmName&& other) noexcept;
  ShmName(const ShmName&) = delete;
  ShmName& operator=(const ShmName&) = delete;
  ~ShmName() { unlink(); }

  const std::string& str() const noexcept { return name_; }
  void unlink() noexcept;

 private:
  std::string name_;
};

// What the opener knows independently of the segment, to tell a live one from a stale or foreign
// one.
struct SegmentExpectation {
  std::uint64_t generation = 0;
  std::optional<pid_t> creator_pid;  // the supervisor's pid, when known
};

class Segment {
 public:
  // Creates "/<prefix>.<pid>.<128 random bits>", mode 0600, sized and backed for `layout` now so a
  // full /dev/shm fails here rather than as SIGBUS later. `prefix`: [A-Za-z0-9_-], 1-32 chars.
  static Result<Segment> create(std::string_view prefix, const SegmentLayout& layout,
                                std::uint64_t generation) noexcept;
  // Maps an existing segment and validates its header against `expected`.
  static Result<Segment> open(std::string_view name, const SegmentExpectation& expected) noexcept;

  Segment(Segment&&) noexcept = default;
  Segment& operator=(Segment&&) noexcept = default;
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  ~Segment() = default;  // unmaps; the creator's ShmName unlinks

  const std::string& name() const noexcept { return name_; }
  std::uint64_t generation() const noexcept { return header_.generation; }
  std::uint64_t size_bytes() const noexcept { return header_.segment_bytes; }
  // The whole mapping (header and both rings), e.g. for a GPU worker to page-lock it.
  std::span<std::byte> mapping() const noexcept {
    return {static_cast<std::byte*>(region_.get_address()), region_.get_size()};
  }
  RingView request_ring() const noexcept { return ring_view(header_.request); }
  RingView response_ring() const noexcept { return ring_view(header_.response); }

  // The worker's device-memory report (SegmentHeader::worker_device_bytes): written by the
  // worker, read by the supervisor for its metrics.
  void report_device_bytes(std::uint64_t bytes) noexcept;
  std::uint64_t reported_device_bytes() const noexcept;

 private:
  Segment() = default;
  RingView ring_view(const RingPlacement& placement) const noexcept;

  ShmName owned_name_;  // empty in the opener
  std::string name_;
  boost::interprocess::mapped_region region_;
  SegmentHeader header_{};  // validated copy; never re-read from shared memory
};

}  // namespace infervisor::shm
