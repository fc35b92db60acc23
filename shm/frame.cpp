#include "shm/frame.hpp"

#include <algorithm>
#include <cstring>
#include <type_traits>

namespace infervisor::shm {
namespace {

constexpr std::uint32_t kFrameMagic = 0x52465649;  // "IVFR", little-endian
constexpr std::uint16_t kFrameVersion = 2;         // 2: stage times

// Wire structs: read and written only with memcpy, so neither alignment nor a peer changing the
// bytes between a check and a use matters.
struct WireFrameHeader {
  std::uint32_t magic;
  std::uint16_t version;
  std::uint16_t kind;
  std::uint64_t job_id;
  std::uint64_t frame_bytes;
  std::uint32_t tensor_count;
  std::uint32_t output_name_count;
  std::uint32_t model_name_bytes;
  std::uint32_t reserved;
  std::uint64_t stage_ns[3];  // StageTimes: input copy, forward, output copy
  char model_name[kMaxModelNameBytes];
};

struct WireTensorDescriptor {
  std::uint32_t name_bytes;
  std::uint8_t dtype;
  std::uint8_t ndim;
  std::uint16_t reserved;
  char name[kMaxTensorNameBytes];
  std::int64_t dims[kMaxDims];
  std::uint64_t byte_size;
  std::uint64_t offset;  // from the start of the frame
};

struct WireName {
  std::uint32_t bytes;
  std::uint32_t reserved;
  char text[kMaxTensorNameBytes];
};

static_assert(std::is_trivially_copyable_v<WireFrameHeader>);
static_assert(std::is_trivially_copyable_v<WireTensorDescriptor>);
static_assert(std::is_trivially_copyable_v<WireName>);
static_assert(sizeof(WireFrameHeader) % 8 == 0 && sizeof(WireTensorDescriptor) % 8 == 0 &&
              sizeof(WireName) % 8 == 0);

constexpr std::uint64_t align_payload(std::uint64_t value) noexcept {
  return (value + kPayloadAlignment - 1) & ~std::uint64_t{kPayloadAlignment - 1};
}

// Bounded counts keep this far from overflow: 256 * 152 + 256 * 72 + 192 bytes at most.
constexpr std::uint64_t tables_end(std::uint64_t tensors, std::uint64_t names) noexcept {
  return sizeof(WireFrameHeader) + tensors * sizeof(WireTensorDescriptor) +
         names * sizeof(WireName);
}

template <class T>
T read_wire(std::span<const std::byte> bytes, std::uint64_t offset) noexcept {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

void to_wire(const StageTimes& stages, std::uint64_t (&wire)[3]) noexcept {
  wire[0] = stages.input_copy_ns;
  wire[1] = stages.forward_ns;
  wire[2] = stages.output_copy_ns;
}

Result<StageTimes> from_wire(const std::uint64_t (&wire)[3]) noexcept {
  for (const std::uint64_t ns : wire) {
    if (ns > kMaxStageNanoseconds) {
      return make_error(ErrorCode::kCorrupt, "a stage time of {} ns is beyond {} ns", ns,
                        kMaxStageNanoseconds);
    }
  }
  return StageTimes{wire[0], wire[1], wire[2]};
}

}  // namespace

Result<FramePlan> plan_frame(std::string_view model_name, std::span<const TensorLayout> tensors,
                             std::span<const std::string_view> output_names) noexcept {
  if (model_name.empty() || model_name.size() > kMaxModelNameBytes) {
    return make_error(ErrorCode::kInvalidArgument, "model name '{}' must be 1-{} bytes", model_name,
                      kMaxModelNameBytes);
  }
  if (tensors.size() > kMaxFrameTensors || output_names.size() > kMaxFrameTensors) {
    return make_error(ErrorCode::kInvalidArgument,
                      "a frame holds at most {} tensors and {} output names (got {} and {})",
                      kMaxFrameTensors, kMaxFrameTensors, tensors.size(), output_names.size());
  }
  for (const auto& name : output_names) {
    if (name.empty() || name.size() > kMaxTensorNameBytes) {
      return make_error(ErrorCode::kInvalidArgument, "output name '{}' must be 1-{} bytes", name,
                        kMaxTensorNameBytes);
    }
  }
  FramePlan plan;
  std::uint64_t cursor = align_payload(tables_end(tensors.size(), output_names.size()));
  for (const auto& tensor : tensors) {
    if (tensor.name.empty() || tensor.name.size() > kMaxTensorNameBytes) {
      return make_error(ErrorCode::kInvalidArgument, "tensor name '{}' must be 1-{} bytes",
                        tensor.name, kMaxTensorNameBytes);
    }
    if (tensor.dims.size() > kMaxDims) {
      return make_error(ErrorCode::kInvalidArgument, "tensor '{}' has {} dimensions, at most {}",
                        tensor.name, tensor.dims.size(), kMaxDims);
    }
    const auto bytes = checked_byte_size(tensor.dtype, tensor.dims);
    if (!bytes) {
      return make_error(ErrorCode::kInvalidArgument,
                        "tensor '{}' shape {} has a negative dimension or overflows", tensor.name,
                        shape_to_string(tensor.dims));
    }
    std::uint64_t end = 0;
    std::optional<std::uint64_t> next;
    if (__builtin_add_overflow(cursor, *bytes, &end) ||
        !(next = checked_align_up(end, kPayloadAlignment))) {
      return make_error(ErrorCode::kTooLarge, "tensor '{}' of {} bytes overflows the frame",
                        tensor.name, *bytes);
    }
    plan.payload_offsets.push_back(cursor);
    plan.payload_bytes.push_back(*bytes);
    cursor = *next;
  }
  plan.total_bytes = cursor;
  return plan;
}

SmallVector<std::span<std::byte>> write_frame(
    std::span<std::byte> record, const FramePlan& plan, FrameKind kind, std::uint64_t job_id,
    std::string_view model_name, std::span<const TensorLayout> tensors,
    std::span<const std::string_view> output_names) noexcept {
  WireFrameHeader header{};
  header.magic = kFrameMagic;
  header.version = kFrameVersion;
  header.kind = static_cast<std::uint16_t>(kind);
  header.job_id = job_id;
  header.frame_bytes = plan.total_bytes;
  header.tensor_count = static_cast<std::uint32_t>(tensors.size());
  header.output_name_count = static_cast<std::uint32_t>(output_names.size());
  header.model_name_bytes = static_cast<std::uint32_t>(model_name.size());
  std::memcpy(header.model_name, model_name.data(), model_name.size());
  std::memcpy(record.data(), &header, sizeof(header));

  SmallVector<std::span<std::byte>> payloads;
  std::uint64_t cursor = sizeof(WireFrameHeader);
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    WireTensorDescriptor descriptor{};
    descriptor.name_bytes = static_cast<std::uint32_t>(tensors[i].name.size());
    descriptor.dtype = static_cast<std::uint8_t>(tensors[i].dtype);
    descriptor.ndim = static_cast<std::uint8_t>(tensors[i].dims.size());
    std::memcpy(descriptor.name, tensors[i].name.data(), tensors[i].name.size());
    std::copy(tensors[i].dims.begin(), tensors[i].dims.end(), descriptor.dims);
    descriptor.byte_size = plan.payload_bytes[i];
    descriptor.offset = plan.payload_offsets[i];
    std::memcpy(record.data() + cursor, &descriptor, sizeof(descriptor));
    cursor += sizeof(descriptor);
    payloads.emplace_back(record.data() + plan.payload_offsets[i], plan.payload_bytes[i]);
  }
  for (const auto& name : output_names) {
    WireName wire{};
    wire.bytes = static_cast<std::uint32_t>(name.size());
    std::memcpy(wire.text, name.data(), name.size());
    std::memcpy(record.data() + cursor, &wire, sizeof(wire));
    cursor += sizeof(wire);
  }
  return payloads;
}

void write_stage_times(std::span<std::byte> record, const StageTimes& stages) noexcept {
  std::uint64_t wire[3];
  to_wire(stages, wire);
  std::memcpy(record.data() + offsetof(WireFrameHeader, stage_ns), wire, sizeof(wire));
}

Result<FrameView> decode_frame(std::span<const std::byte> record, std::uint64_t job_id) noexcept {
  if (record.size() < sizeof(WireFrameHeader)) {
    return make_error(ErrorCode::kCorrupt, "frame of {} bytes is shorter than its {}-byte header",
                      record.size(), sizeof(WireFrameHeader));
  }
  const auto header = read_wire<WireFrameHeader>(record, 0);
  if (header.magic != kFrameMagic || header.version != kFrameVersion) {
    return make_error(ErrorCode::kCorrupt,
                      "frame magic {:#x} version {} (expected {:#x} version {})", header.magic,
                      header.version, kFrameMagic, kFrameVersion);
  }
  if (header.kind != static_cast<std::uint16_t>(FrameKind::kRequest) &&
      header.kind != static_cast<std::uint16_t>(FrameKind::kResponse)) {
    return make_error(ErrorCode::kCorrupt, "frame kind {} is neither request nor response",
                      header.kind);
  }
  if (header.job_id != job_id) {
    return make_error(ErrorCode::kCorrupt, "frame carries job {} inside a record for job {}",
                      header.job_id, job_id);
  }
  if (header.frame_bytes != record.size()) {
    return make_error(ErrorCode::kCorrupt, "frame says {} bytes but its record holds {}",
                      header.frame_bytes, record.size());
  }
  if (header.tensor_count > kMaxFrameTensors || header.output_name_count > kMaxFrameTensors) {
    return make_error(ErrorCode::kCorrupt,
                      "frame claims {} tensors and {} output names (at most {})",
                      header.tensor_count, header.output_name_count, kMaxFrameTensors);
  }
  if (header.model_name_bytes == 0 || header.model_name_bytes > kMaxModelNameBytes) {
    return make_error(ErrorCode::kCorrupt, "frame model name length {} is outside 1-{}",
                      header.model_name_bytes, kMaxModelNameBytes);
  }
  const std::uint64_t tables = tables_end(header.tensor_count, header.output_name_count);
  if (tables > record.size()) {
    return make_error(ErrorCode::kCorrupt, "frame tables need {} bytes but the frame has {}",
                      tables, record.size());
  }

  const auto stages = from_wire(header.stage_ns);
  if (!stages) return stages.error();
  if (header.kind == static_cast<std::uint16_t>(FrameKind::kRequest) && *stages != StageTimes{}) {
    return make_error(ErrorCode::kCorrupt, "a request frame carries stage times");
  }

  FrameView view;
  view.kind = static_cast<FrameKind>(header.kind);
  view.job_id = header.job_id;
  view.stages = *stages;
  const auto* base = reinterpret_cast<const char*>(record.data());
  view.model_name =
      std::string_view(base + offsetof(WireFrameHeader, model_name), header.model_name_bytes);

  std::uint64_t cursor = sizeof(WireFrameHeader);
  std::uint64_t payload_floor = align_payload(tables);
  for (std::uint32_t i = 0; i < header.tensor_count; ++i) {
    const auto descriptor = read_wire<WireTensorDescriptor>(record, cursor);
    const std::uint64_t descriptor_at = cursor;
    cursor += sizeof(WireTensorDescriptor);
    if (descriptor.name_bytes == 0 || descriptor.name_bytes > kMaxTensorNameBytes) {
      return make_error(ErrorCode::kCorrupt, "tensor {} name length {} is outside 1-{}", i,
                        descriptor.name_bytes, kMaxTensorNameBytes);
    }
    TensorView tensor;
    tensor.name = std::string_view(base + descriptor_at + offsetof(WireTensorDescriptor, name),
                                   descriptor.name_bytes);
    const auto dtype = dtype_from_raw(descriptor.dtype);
    if (!dtype) {
      return make_error(ErrorCode::kCorrupt, "tensor '{}' has unknown dtype {}", tensor.name,
                        descriptor.dtype);
    }
    tensor.dtype = *dtype;
    if (descriptor.ndim > kMaxDims) {
      return make_error(ErrorCode::kCorrupt, "tensor '{}' has {} dimensions (at most {})",
                        tensor.name, descriptor.ndim, kMaxDims);
    }
    tensor.ndim = descriptor.ndim;
    std::copy_n(descriptor.dims, descriptor.ndim, tensor.dims);
    const auto expected_bytes = checked_byte_size(tensor.dtype, tensor.shape());
    if (!expected_bytes || *expected_bytes != descriptor.byte_size) {
      return make_error(ErrorCode::kCorrupt,
                        "tensor '{}' {} {} claims {} bytes, which its shape does not give",
                        tensor.name, dtype_name(tensor.dtype), shape_to_string(tensor.shape()),
                        descriptor.byte_size);
    }
    std::uint64_t end = 0;
    if (descriptor.offset % kPayloadAlignment != 0 || descriptor.offset < payload_floor ||
        __builtin_add_overflow(descriptor.offset, descriptor.byte_size, &end) ||
        end > record.size()) {
      return make_error(ErrorCode::kCorrupt,
                        "tensor '{}' payload [{}, +{}) is misaligned, overlaps or leaves the "
                        "{}-byte frame",
                        tensor.name, descriptor.offset, descriptor.byte_size, record.size());
    }
    payload_floor = end;
    tensor.data = record.subspan(descriptor.offset, descriptor.byte_size);
    view.tensors.push_back(tensor);
  }
  for (std::uint32_t i = 0; i < header.output_name_count; ++i) {
    const auto name = read_wire<WireName>(record, cursor);
    if (name.bytes == 0 || name.bytes > kMaxTensorNameBytes) {
      return make_error(ErrorCode::kCorrupt, "output name {} length {} is outside 1-{}", i,
                        name.bytes, kMaxTensorNameBytes);
    }
    view.output_names.emplace_back(base + cursor + offsetof(WireName, text), name.bytes);
    cursor += sizeof(WireName);
  }
  return view;
}

// ---------------------------------------------------------------------------------------------
namespace {
struct WireErrorHeader {
  std::uint32_t kind;
  std::uint32_t message_bytes;
  std::uint16_t version;  // kFrameVersion
  std::uint16_t reserved[3];
  std::uint64_t stage_ns[3];
};
static_assert(std::is_trivially_copyable_v<WireErrorHeader> && sizeof(WireErrorHeader) == 40);

Result<WireErrorHeader> read_error_header(std::span<const std::byte> payload) noexcept {
  if (payload.size() < sizeof(WireErrorHeader)) {
    return make_error(ErrorCode::kCorrupt, "error record of {} bytes has no header",
                      payload.size());
  }
  const auto header = read_wire<WireErrorHeader>(payload, 0);
  if (header.version != kFrameVersion) {
    return make_error(ErrorCode::kCorrupt, "error record version {} (expected {})", header.version,
                      kFrameVersion);
  }
  return header;
}
}  // namespace

std::uint64_t error_payload_bytes(std::string_view message) noexcept {
  return sizeof(WireErrorHeader) + std::min(message.size(), kMaxErrorMessageBytes);
}

void write_error_payload(std::span<std::byte> payload, JobErrorKind kind, std::string_view message,
                         const StageTimes& stages) noexcept {
  const auto length = std::min(message.size(), kMaxErrorMessageBytes);
  WireErrorHeader header{};
  header.kind = static_cast<std::uint32_t>(kind);
  header.message_bytes = static_cast<std::uint32_t>(length);
  header.version = kFrameVersion;
  to_wire(stages, header.stage_ns);
  std::memcpy(payload.data(), &header, sizeof(header));
  std::memcpy(payload.data() + sizeof(header), message.data(), length);
}

Result<ErrorPayloadView> decode_error_payload(std::span<const std::byte> payload) noexcept {
  const auto read = read_error_header(payload);
  if (!read) return read.error();
  const WireErrorHeader& header = *read;
  const auto stages = from_wire(header.stage_ns);
  if (!stages) return stages.error();
  if (header.kind < static_cast<std::uint32_t>(JobErrorKind::kInternal) ||
      header.kind > static_cast<std::uint32_t>(JobErrorKind::kStartup)) {
    return make_error(ErrorCode::kCorrupt, "error record has unknown kind {}", header.kind);
  }
  if (header.message_bytes > kMaxErrorMessageBytes ||
      header.message_bytes > payload.size() - sizeof(WireErrorHeader)) {
    return make_error(ErrorCode::kCorrupt, "error message of {} bytes overruns its {}-byte record",
                      header.message_bytes, payload.size());
  }
  return ErrorPayloadView{
      static_cast<JobErrorKind>(header.kind),
      std::string_view(reinterpret_cast<const char*>(payload.data()) + sizeof(WireErrorHeader),
                       header.message_bytes),
      *stages};
}

Result<StageTimes> decode_stage_times(std::span<const std::byte> payload, bool error) noexcept {
  if (error) {
    const auto header = read_error_header(payload);
    if (!header) return header.error();
    return from_wire(header->stage_ns);
  }
  if (payload.size() < sizeof(WireFrameHeader)) {
    return make_error(ErrorCode::kCorrupt, "frame of {} bytes is shorter than its {}-byte header",
                      payload.size(), sizeof(WireFrameHeader));
  }
  const auto header = read_wire<WireFrameHeader>(payload, 0);
  if (header.magic != kFrameMagic || header.version != kFrameVersion) {
    return make_error(ErrorCode::kCorrupt,
                      "frame magic {:#x} version {} (expected {:#x} version {})", header.magic,
                      header.version, kFrameMagic, kFrameVersion);
  }
  return from_wire(header.stage_ns);
}

}  // namespace infervisor::shm
