#include "shm/frame.hpp"

#include <algorithm>
#include <cstring>
#include <type_traits>

namespace infervisor::shm {
namespace {

constexpr std::uint32_t kFrameMagic = 0x52465649;  // "IVFR", little-endian
constexpr std::uint16_t kFrameVersion = 4;         // 2: stage times, 3: regions, 4: CUDA regions

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
  std::uint32_t region_count;
  std::uint64_t stage_ns[3];  // StageTimes: input copy, forward, output copy
  char model_name[kMaxModelNameBytes];
};

struct WireTensorDescriptor {
  std::uint32_t name_bytes;
  std::uint8_t dtype;
  std::uint8_t ndim;
  std::uint16_t region;  // 0: in the payloads; k: region table entry k - 1
  char name[kMaxTensorNameBytes];
  std::int64_t dims[kMaxDims];
  std::uint64_t byte_size;
  std::uint64_t offset;  // from the start of the frame, or of the region's registered range
};

struct WireName {
  std::uint32_t bytes;
  std::uint16_t region;  // OutputPlacement
  std::uint16_t reserved;
  char text[kMaxTensorNameBytes];
  std::uint64_t offset;
  std::uint64_t byte_size;
};

struct WireRegion {
  std::uint64_t token;
  std::uint64_t device;
  std::uint64_t inode;
  std::uint64_t object_offset;
  std::uint64_t byte_size;
  std::uint32_t key_bytes;
  std::uint32_t owner;
  std::uint32_t kind;  // RegionKind
  std::uint32_t reserved;
  char key[kMaxRegionKeyBytes + 1];
};

static_assert(std::is_trivially_copyable_v<WireFrameHeader>);
static_assert(std::is_trivially_copyable_v<WireTensorDescriptor>);
static_assert(std::is_trivially_copyable_v<WireName>);
static_assert(std::is_trivially_copyable_v<WireRegion>);
static_assert(sizeof(WireFrameHeader) % 8 == 0 && sizeof(WireTensorDescriptor) % 8 == 0 &&
              sizeof(WireName) % 8 == 0 && sizeof(WireRegion) % 8 == 0);

constexpr std::uint64_t align_payload(std::uint64_t value) noexcept {
  return (value + kPayloadAlignment - 1) & ~std::uint64_t{kPayloadAlignment - 1};
}

// Bounded counts keep this far from overflow: 256 * 152 + 256 * 88 + 64 * 312 + 192 bytes at
// most.
constexpr std::uint64_t names_start(std::uint64_t tensors) noexcept {
  return sizeof(WireFrameHeader) + tensors * sizeof(WireTensorDescriptor);
}
constexpr std::uint64_t regions_start(std::uint64_t tensors, std::uint64_t names) noexcept {
  return names_start(tensors) + names * sizeof(WireName);
}
constexpr std::uint64_t tables_end(std::uint64_t tensors, std::uint64_t names,
                                   std::uint64_t regions) noexcept {
  return regions_start(tensors, names) + regions * sizeof(WireRegion);
}

// [offset, offset + bytes) lies within a range of `size` bytes.
constexpr bool within(std::uint64_t offset, std::uint64_t bytes, std::uint64_t size) noexcept {
  return offset <= size && bytes <= size - offset;
}

Result<void> check_region_index(std::uint16_t region, std::size_t count, std::string_view what,
                                std::string_view name) noexcept {
  if (region > count) {
    return make_error(ErrorCode::kInvalidArgument, "{} '{}' refers to region {} of {}", what, name,
                      region, count);
  }
  return {};
}

// A system region's key is a shm name; a CUDA region's, the raw IPC handle.
Result<void> check_region_key(RegionKind kind, std::size_t key_bytes, ErrorCode code) noexcept {
  switch (kind) {
    case RegionKind::kSystem:
      if (key_bytes == 0 || key_bytes > kMaxRegionKeyBytes) {
        return make_error(code, "a region key of {} bytes is outside 1-{}", key_bytes,
                          kMaxRegionKeyBytes);
      }
      return {};
    case RegionKind::kCuda:
      if (key_bytes != kCudaIpcHandleBytes) {
        return make_error(code, "a CUDA region's handle has {} bytes, not {}", key_bytes,
                          kCudaIpcHandleBytes);
      }
      return {};
  }
  return make_error(code, "region kind {} is neither system nor CUDA",
                    static_cast<std::uint32_t>(kind));
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
                             std::span<const std::string_view> output_names,
                             const FrameRegions& regions) noexcept {
  if (model_name.empty() || model_name.size() > kMaxModelNameBytes) {
    return make_error(ErrorCode::kInvalidArgument, "model name '{}' must be 1-{} bytes", model_name,
                      kMaxModelNameBytes);
  }
  if (tensors.size() > kMaxFrameTensors || output_names.size() > kMaxFrameTensors) {
    return make_error(ErrorCode::kInvalidArgument,
                      "a frame holds at most {} tensors and {} output names (got {} and {})",
                      kMaxFrameTensors, kMaxFrameTensors, tensors.size(), output_names.size());
  }
  if (regions.regions.size() > kMaxFrameRegions) {
    return make_error(ErrorCode::kInvalidArgument, "a frame names at most {} regions (got {})",
                      kMaxFrameRegions, regions.regions.size());
  }
  for (const auto& region : regions.regions) {
    if (auto ok = check_region_key(region.kind, region.key.size(), ErrorCode::kInvalidArgument);
        !ok) {
      return ok.error();
    }
  }
  if (!regions.outputs.empty() && regions.outputs.size() != output_names.size()) {
    return make_error(ErrorCode::kInvalidArgument, "{} output placements for {} output names",
                      regions.outputs.size(), output_names.size());
  }
  for (std::size_t i = 0; i < output_names.size(); ++i) {
    const auto& name = output_names[i];
    if (name.empty() || name.size() > kMaxTensorNameBytes) {
      return make_error(ErrorCode::kInvalidArgument, "output name '{}' must be 1-{} bytes", name,
                        kMaxTensorNameBytes);
    }
    if (regions.outputs.empty() || regions.outputs[i].region == 0) continue;
    const auto& placement = regions.outputs[i];
    if (auto ok = check_region_index(placement.region, regions.regions.size(), "output", name);
        !ok) {
      return ok.error();
    }
    if (!within(placement.offset, placement.byte_size,
                regions.regions[placement.region - 1].byte_size)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "output '{}' range [{}, +{}) leaves its {}-byte region", name,
                        placement.offset, placement.byte_size,
                        regions.regions[placement.region - 1].byte_size);
    }
  }
  FramePlan plan;
  std::uint64_t cursor =
      align_payload(tables_end(tensors.size(), output_names.size(), regions.regions.size()));
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
    if (tensor.region != 0) {
      if (auto ok =
              check_region_index(tensor.region, regions.regions.size(), "tensor", tensor.name);
          !ok) {
        return ok.error();
      }
      if (!within(tensor.region_offset, *bytes, regions.regions[tensor.region - 1].byte_size)) {
        return make_error(ErrorCode::kInvalidArgument,
                          "tensor '{}' range [{}, +{}) leaves its {}-byte region", tensor.name,
                          tensor.region_offset, *bytes,
                          regions.regions[tensor.region - 1].byte_size);
      }
      plan.payload_offsets.push_back(tensor.region_offset);
      plan.payload_bytes.push_back(*bytes);
      continue;
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

SmallVector<std::span<std::byte>> write_frame(std::span<std::byte> record, const FramePlan& plan,
                                              FrameKind kind, std::uint64_t job_id,
                                              std::string_view model_name,
                                              std::span<const TensorLayout> tensors,
                                              std::span<const std::string_view> output_names,
                                              const FrameRegions& regions) noexcept {
  WireFrameHeader header{};
  header.magic = kFrameMagic;
  header.version = kFrameVersion;
  header.kind = static_cast<std::uint16_t>(kind);
  header.job_id = job_id;
  header.frame_bytes = plan.total_bytes;
  header.tensor_count = static_cast<std::uint32_t>(tensors.size());
  header.output_name_count = static_cast<std::uint32_t>(output_names.size());
  header.model_name_bytes = static_cast<std::uint32_t>(model_name.size());
  header.region_count = static_cast<std::uint32_t>(regions.regions.size());
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
    descriptor.region = tensors[i].region;
    descriptor.byte_size = plan.payload_bytes[i];
    descriptor.offset = plan.payload_offsets[i];
    std::memcpy(record.data() + cursor, &descriptor, sizeof(descriptor));
    cursor += sizeof(descriptor);
    if (tensors[i].region == 0)
      payloads.emplace_back(record.data() + plan.payload_offsets[i], plan.payload_bytes[i]);
    else
      payloads.emplace_back();
  }
  for (std::size_t i = 0; i < output_names.size(); ++i) {
    WireName wire{};
    wire.bytes = static_cast<std::uint32_t>(output_names[i].size());
    std::memcpy(wire.text, output_names[i].data(), output_names[i].size());
    if (!regions.outputs.empty()) {
      wire.region = regions.outputs[i].region;
      wire.offset = regions.outputs[i].offset;
      wire.byte_size = regions.outputs[i].byte_size;
    }
    std::memcpy(record.data() + cursor, &wire, sizeof(wire));
    cursor += sizeof(wire);
  }
  for (const auto& region : regions.regions) {
    WireRegion wire{};
    wire.token = region.token;
    wire.device = region.device;
    wire.inode = region.inode;
    wire.object_offset = region.object_offset;
    wire.byte_size = region.byte_size;
    wire.key_bytes = static_cast<std::uint32_t>(region.key.size());
    wire.owner = region.owner;
    wire.kind = static_cast<std::uint32_t>(region.kind);
    std::memcpy(wire.key, region.key.data(), region.key.size());
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
  if (header.tensor_count > kMaxFrameTensors || header.output_name_count > kMaxFrameTensors ||
      header.region_count > kMaxFrameRegions) {
    return make_error(ErrorCode::kCorrupt,
                      "frame claims {} tensors, {} output names and {} regions (at most {}, {} "
                      "and {})",
                      header.tensor_count, header.output_name_count, header.region_count,
                      kMaxFrameTensors, kMaxFrameTensors, kMaxFrameRegions);
  }
  if (header.model_name_bytes == 0 || header.model_name_bytes > kMaxModelNameBytes) {
    return make_error(ErrorCode::kCorrupt, "frame model name length {} is outside 1-{}",
                      header.model_name_bytes, kMaxModelNameBytes);
  }
  const std::uint64_t tables =
      tables_end(header.tensor_count, header.output_name_count, header.region_count);
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

  for (std::uint32_t i = 0; i < header.region_count; ++i) {
    const std::uint64_t at =
        regions_start(header.tensor_count, header.output_name_count) + i * sizeof(WireRegion);
    const auto wire = read_wire<WireRegion>(record, at);
    const auto kind = static_cast<RegionKind>(wire.kind);
    if (auto ok = check_region_key(kind, wire.key_bytes, ErrorCode::kCorrupt); !ok) {
      return make_error(ErrorCode::kCorrupt, "region {}: {}", i, ok.error().message);
    }
    view.regions.push_back({wire.token, wire.device, wire.inode, wire.object_offset, wire.byte_size,
                            std::string_view(base + at + offsetof(WireRegion, key), wire.key_bytes),
                            wire.owner, kind});
  }

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
    tensor.byte_size = descriptor.byte_size;
    if (descriptor.region != 0) {
      if (descriptor.region > view.regions.size() ||
          !within(descriptor.offset, descriptor.byte_size,
                  view.regions[descriptor.region - 1].byte_size)) {
        return make_error(ErrorCode::kCorrupt,
                          "tensor '{}' [{}, +{}) in region {} is not within the frame's {} "
                          "regions",
                          tensor.name, descriptor.offset, descriptor.byte_size, descriptor.region,
                          view.regions.size());
      }
      tensor.region = descriptor.region;
      tensor.region_offset = descriptor.offset;
      view.tensors.push_back(tensor);
      continue;
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
    const std::string_view text(base + cursor + offsetof(WireName, text), name.bytes);
    if (name.region != 0 &&
        (name.region > view.regions.size() ||
         !within(name.offset, name.byte_size, view.regions[name.region - 1].byte_size))) {
      return make_error(ErrorCode::kCorrupt,
                        "output '{}' [{}, +{}) in region {} is not within the frame's {} regions",
                        text, name.offset, name.byte_size, name.region, view.regions.size());
    }
    view.output_names.push_back(text);
    view.output_placements.push_back({name.region, name.offset, name.byte_size});
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
