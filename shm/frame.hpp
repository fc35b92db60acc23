// Tensor frames: how a job's tensors are laid out inside one ring record.
//
//   FrameHeader | TensorDescriptor x tensor_count | NameField x output_name_count | payloads
//
// Payloads start at 64-byte boundaries (records do too, so they are 64-byte aligned in memory)
// and appear in descriptor order without overlap. The encoder writes headers straight into a
// reserved record and hands back where each payload goes; the decoder validates every field and
// returns views into the record, never copies of the payload.
//
// Version 2 added the worker's stage times (StageTimes) to the frame header and to ERROR
// payloads: zero in requests, filled in by the worker before it commits an answer. Version 3
// added client shared-memory regions: a request may carry a region table (after the output
// names), an input may live in a region instead of the payloads, and a requested output may be
// placed into a region; a response then describes that output with the region's index and no
// payload. Version 4 added CUDA regions: a region table entry is a POSIX shm object or a CUDA
// IPC handle. A peer of another version is refused as corrupt (daemon and workers always come from
// one build).
#pragma once

#include <boost/container/small_vector.hpp>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/dtype.hpp"
#include "common/error.hpp"
#include "common/shape.hpp"

namespace infervisor::shm {

inline constexpr std::size_t kMaxModelNameBytes = 128;
inline constexpr std::size_t kMaxTensorNameBytes = 64;
inline constexpr std::size_t kMaxFrameTensors = 256;
inline constexpr std::size_t kPayloadAlignment = 64;
inline constexpr std::size_t kMaxFrameRegions = 64;
inline constexpr std::size_t kMaxRegionKeyBytes = 255;  // NAME_MAX
inline constexpr std::size_t kCudaIpcHandleBytes = 64;  // sizeof(cudaIpcMemHandle_t)

enum class FrameKind : std::uint16_t { kRequest = 1, kResponse = 2 };

// What the worker spent on one job, in nanoseconds, as its device saw it (CUDA events on a GPU,
// the steady clock on a CPU): copying the inputs to the device, forward(), copying the outputs
// into the response record. Triton's compute_input, compute_infer and compute_output.
struct StageTimes {
  std::uint64_t input_copy_ns = 0;
  std::uint64_t forward_ns = 0;
  std::uint64_t output_copy_ns = 0;

  bool operator==(const StageTimes&) const = default;
};

// A stage time above this (a day) can only come from a corrupt record.
inline constexpr std::uint64_t kMaxStageNanoseconds = 86'400'000'000'000ull;

enum class RegionKind : std::uint32_t {
  kSystem = 0,  // a POSIX shm object in host memory
  kCuda = 1,    // GPU memory another process exported as a cudaIpcMemHandle_t
};

// A client's shared-memory region as a request frame names it.
//  - kSystem: the POSIX shm object (`key`, e.g. "/client_x") with the device and inode the
//    daemon found when it was registered (the worker opens the name again and refuses an object
//    that is not the same one), and the registered byte range of it.
//  - kCuda: `key` holds the kCudaIpcHandleBytes raw bytes of the handle, which names the base of
//    a cudaMalloc block; the registered range starts there (`object_offset` 0). device and inode
//    are 0 and owner is the registering uid: the daemon cannot look at GPU memory, so the worker
//    checks the block's device and size when it opens the handle.
// `token` identifies the registration; it is never reused, so a worker may keep the object
// mapped (or the handle open) under it until the daemon says the region is gone.
struct RegionRef {
  std::uint64_t token = 0;
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::uint64_t object_offset = 0;  // where the registered range starts in the object
  std::uint64_t byte_size = 0;      // the registered range's length
  std::string_view key;
  std::uint32_t owner = 0;  // the object's owner (st_uid) when it was registered
  RegionKind kind = RegionKind::kSystem;

  bool operator==(const RegionRef&) const = default;
};

// Where a tensor's bytes are: `region` 0 in the frame's payloads, k > 0 in region k - 1 of the
// request's region table, at `region_offset` from the start of its registered range.
struct TensorLayout {
  std::string_view name;
  DType dtype = DType::kFloat32;
  std::span<const std::int64_t> dims;
  std::uint16_t region = 0;
  std::uint64_t region_offset = 0;
};

struct TensorView {
  std::string_view name;
  DType dtype = DType::kFloat32;
  std::uint8_t ndim = 0;
  std::int64_t dims[kMaxDims] = {};
  std::span<const std::byte> data;  // empty when the bytes are in a region
  std::uint16_t region = 0;         // as in TensorLayout
  std::uint64_t region_offset = 0;
  std::uint64_t byte_size = 0;
  // Never set by decode_frame: a worker that points `data` into a CUDA region's GPU memory says
  // so here.
  bool device_memory = false;

  std::span<const std::int64_t> shape() const noexcept { return {dims, ndim}; }
};

// Where a requested output goes: `region` 0 into the response frame; k > 0 into region k - 1 of
// the request's region table, at `offset` from its start, in at most `byte_size` bytes.
struct OutputPlacement {
  std::uint16_t region = 0;
  std::uint64_t offset = 0;
  std::uint64_t byte_size = 0;

  bool operator==(const OutputPlacement&) const = default;
};

// A request's regions and where its outputs go. `outputs` is empty (every output in the
// response) or has one entry per output name.
struct FrameRegions {
  std::span<const RegionRef> regions;
  std::span<const OutputPlacement> outputs;
};

template <class T>
using SmallVector = boost::container::small_vector<T, 8>;

struct FrameView {
  FrameKind kind = FrameKind::kRequest;
  std::uint64_t job_id = 0;
  StageTimes stages;  // all zero in a request
  std::string_view model_name;
  SmallVector<TensorView> tensors;
  SmallVector<std::string_view> output_names;      // requested outputs; empty means all
  SmallVector<OutputPlacement> output_placements;  // one per output name
  SmallVector<RegionRef> regions;                  // a request's region table
};

// Where each tensor's bytes go, and the total record payload size.
struct FramePlan {
  std::uint64_t total_bytes = 0;
  std::vector<std::uint64_t> payload_offsets;
  std::vector<std::uint64_t> payload_bytes;
};

// Validates names, counts, sizes and region references, and computes the frame's size and payload
// offsets. A tensor in a region takes no payload bytes (its payload_bytes is still its size).
Result<FramePlan> plan_frame(std::string_view model_name, std::span<const TensorLayout> tensors,
                             std::span<const std::string_view> output_names,
                             const FrameRegions& regions = {}) noexcept;

// Writes the frame's headers into `record` (at least plan.total_bytes long) and returns one
// writable span per tensor, in order, for the caller to fill with the tensor's bytes (empty for
// a tensor in a region).
SmallVector<std::span<std::byte>> write_frame(std::span<std::byte> record, const FramePlan& plan,
                                              FrameKind kind, std::uint64_t job_id,
                                              std::string_view model_name,
                                              std::span<const TensorLayout> tensors,
                                              std::span<const std::string_view> output_names,
                                              const FrameRegions& regions = {}) noexcept;

// Sets the stage times of a frame written by write_frame (a response, once its outputs are in
// place and before it is committed).
void write_stage_times(std::span<std::byte> record, const StageTimes& stages) noexcept;

// Validates `record` as a frame for `job_id` and returns views into it. Any inconsistency is a
// kCorrupt error that says which field is wrong. Region references are checked against the
// request's region table (index, and offset + size within the registered range); a response's
// region indexes refer to its request's table, which the reader of the response checks.
Result<FrameView> decode_frame(std::span<const std::byte> record, std::uint64_t job_id) noexcept;

// ERROR records carry a code and a UTF-8 message.
enum class JobErrorKind : std::uint32_t {
  kInternal = 1,  // the worker failed for a reason of its own
  kModel = 2,     // the model's forward raised
  kBadInput = 3,  // the inputs do not suit the model
  kTooLarge = 4,  // the outputs do not fit the response ring
  kStartup = 5,   // job 0: the worker could not load or warm up the model
};

inline constexpr std::size_t kMaxErrorMessageBytes = 4096;

std::uint64_t error_payload_bytes(std::string_view message) noexcept;
void write_error_payload(std::span<std::byte> payload, JobErrorKind kind, std::string_view message,
                         const StageTimes& stages = {}) noexcept;

struct ErrorPayloadView {
  JobErrorKind kind = JobErrorKind::kInternal;
  std::string_view message;
  StageTimes stages;  // the stages the job got through before it failed
};
Result<ErrorPayloadView> decode_error_payload(std::span<const std::byte> payload) noexcept;

// The stage times of an answer: a response frame (`error` false) or an ERROR payload (true).
// Validates only what it reads; the full decoders above check the rest.
Result<StageTimes> decode_stage_times(std::span<const std::byte> payload, bool error) noexcept;

}  // namespace infervisor::shm
