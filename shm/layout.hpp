// Byte layout of a worker's shared-memory segment. Everything here is shared between processes
// that map the segment at different addresses, so it holds offsets, never pointers, and only
// trivially copyable types and always-lock-free atomics.
//
//   offset 0                 SegmentHeader (immutable once `state` reads kReady)
//   request.control_offset   RingControl  (supervisor -> worker)
//   request.data_offset      request ring bytes, `request.capacity` of them
//   response.control_offset  RingControl  (worker -> supervisor)
//   response.data_offset     response ring bytes
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace infervisor::shm {

inline constexpr std::size_t kCacheLine = 64;
inline constexpr std::size_t kPageBytes = 4096;
// Records, and so tensor payloads inside them, start on this boundary.
inline constexpr std::size_t kRecordAlignment = 64;

inline constexpr std::uint64_t kSegmentMagic = 0x3152535652464e49ULL;  // "INFRVSR1", little-endian
inline constexpr std::uint32_t kLayoutVersion = 3;                     // 3: worker_device_bytes

// Shared fields are plain integers reached through std::atomic_ref (see shared()), so every
// shared struct stays trivially copyable and has the same layout in every process.
template <class T>
std::atomic_ref<T> shared(T& field) noexcept {
  return std::atomic_ref<T>(field);
}

// A parking place for one waiting process. The waiter sets `parked` before it sleeps on
// `sequence` (the futex word); the notifier bumps `sequence` and makes a wake-up system call only
// when `parked` says someone sleeps.
struct alignas(kCacheLine) WaitSlot {
  std::uint32_t sequence;
  std::uint32_t parked;
};

// Positions count bytes since the ring was created and only grow; a byte's place in the ring is
// position % capacity. Each index sits on its own cache line so producer and consumer never
// write the same line. The consumer learns of new records from their commit words, not from
// write_position, which the producer keeps for inspection (Segment::open, drained()).
struct RingControl {
  alignas(kCacheLine) std::uint64_t write_position;  // written by the producer only
  alignas(kCacheLine) std::uint64_t read_position;   // written by the consumer only
  WaitSlot data_ready;   // the consumer parks here when the ring is empty
  WaitSlot space_ready;  // the producer parks here when the ring is full
};

enum class RecordType : std::uint32_t {
  kRequest = 1,      // supervisor -> worker: a tensor frame
  kResponse = 2,     // worker -> supervisor: a tensor frame
  kError = 3,        // worker -> supervisor: an ErrorPayload for a job (or for startup, job 0)
  kShutdown = 4,     // supervisor -> worker: the sentinel; nothing follows it
  kShutdownAck = 5,  // worker -> supervisor: every job before the sentinel is answered
  kReady = 6,        // worker -> supervisor: model loaded and warmed up; payload is UTF-8 text
  kPadding = 7,      // fills the ring's tail when the next record would not fit before the wrap
  // supervisor -> worker: client shared-memory regions no job uses any more (their tokens, as
  // little-endian uint64s): unmap them.
  kReleaseRegions = 8,
};

inline constexpr std::size_t kMaxReleasedRegionsPerRecord = 512;

bool is_known_record_type(std::uint32_t raw) noexcept;
const char* record_type_name(RecordType type) noexcept;

// Precedes every record; 64 bytes so that the payload keeps the record's alignment.
// `commit` is what makes the record exist: the producer writes every other byte of the record
// first and stores commit_tag(its ring position) here last, with release order; the consumer polls
// the commit word where the next record must start and trusts nothing else until it matches.
struct RecordHeader {
  std::uint64_t commit;
  std::uint32_t type;
  std::uint32_t reserved;
  std::uint64_t job_id;
  std::uint64_t payload_bytes;
  std::uint64_t record_bytes;  // header + payload, rounded up to kRecordAlignment
  std::uint8_t unused[24];
};

// The commit word of a record at ring position `position` in a ring whose secret is `key`: never
// 0 (a fresh ring), and different for the same offset in every lap, so neither an unwritten slot
// nor a record left from an earlier lap passes for a new record. Tensor bytes left there from an
// earlier lap cannot either: `key` is random per ring and lives only in the 0600 segment, so a
// client cannot put the word a later record will carry into its tensor data. (A mixing function
// rather than position + 1, which a tensor of counters could contain.)
constexpr std::uint64_t commit_tag(std::uint64_t position, std::uint64_t key) noexcept {
  std::uint64_t x = position + key + 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return (x ^ (x >> 31)) | 1u;
}

struct RingPlacement {
  std::uint64_t control_offset;
  std::uint64_t data_offset;
  std::uint64_t capacity;
  std::uint64_t commit_key;  // random, chosen by the creator: see commit_tag
};

enum class SegmentState : std::uint32_t { kInitializing = 0, kReady = 1 };

struct SegmentHeader {
  std::uint64_t magic;
  std::uint32_t layout_version;
  std::uint32_t header_bytes;
  std::uint64_t segment_bytes;
  std::uint64_t generation;  // which incarnation of the worker slot this segment belongs to
  std::int64_t creator_pid;
  RingPlacement request;
  RingPlacement response;
  // Stored last, with release ordering, once every field above is written.
  std::uint32_t state;
  std::uint32_t reserved;
  // The worker's own report, rewritten after each job: device memory its allocator holds (bytes;
  // 0 on a CPU). Only ever shown in the metrics, never trusted for anything else.
  std::uint64_t worker_device_bytes;
};

static_assert(sizeof(RecordHeader) == kRecordAlignment);
static_assert(offsetof(RecordHeader, commit) == 0);
static_assert(std::is_trivially_copyable_v<RecordHeader>);
static_assert(std::is_trivially_copyable_v<RingPlacement>);
static_assert(std::is_trivially_copyable_v<WaitSlot>);
static_assert(std::is_trivially_copyable_v<RingControl>);
static_assert(std::is_trivially_copyable_v<SegmentHeader>);
static_assert(std::is_standard_layout_v<RingControl> && std::is_standard_layout_v<SegmentHeader>);
// A lock-free atomic is a plain memory operation, safe between processes; a lock-based one would
// hide a lock in the process, not in shared memory.
static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic_ref<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic_ref<std::uint64_t>::required_alignment <= alignof(std::uint64_t));
static_assert(std::atomic_ref<std::uint32_t>::required_alignment <= alignof(std::uint32_t));
static_assert(offsetof(RingControl, read_position) - offsetof(RingControl, write_position) >=
              kCacheLine);
static_assert(offsetof(RingControl, data_ready) % kCacheLine == 0);
static_assert(sizeof(WaitSlot) == kCacheLine);

}  // namespace infervisor::shm
