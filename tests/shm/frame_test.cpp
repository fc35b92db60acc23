// Tensor frames: every dtype and odd shape round-trips through plan_frame/write_frame/decode_frame,
// the encoder refuses what it cannot describe, and the decoder refuses every corrupt field (and
// never reads outside the record, whatever the bytes) with an error that names the field.
#include "shm/frame.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "shm/ring.hpp"
#include "shm/segment.hpp"
#include "tests/shm/shm_fixture.hpp"
#include "tests/shm/test_message.hpp"

namespace infervisor::shm {
namespace {
using testing::Random;
using testing::ShmFixture;

// The wire layout as frame.cpp defines it. The corruption tests poke these offsets; the
// WireLayoutIsWhatTheseTestsPoke test fails first if frame.cpp changes it.
namespace wire {
constexpr std::size_t kHeaderBytes = 192;
constexpr std::size_t kMagic = 0, kVersion = 4, kKind = 6, kJobId = 8, kFrameBytes = 16,
                      kTensorCount = 24, kOutputNameCount = 28, kModelNameBytes = 32,
                      kStageTimes = 40;
constexpr std::size_t kErrorHeaderBytes = 40, kErrorVersion = 8, kErrorStageTimes = 16;
constexpr std::size_t kDescriptorBytes = 152;
constexpr std::size_t kNameBytes = 0, kDType = 4, kNDim = 5, kDims = 72, kByteSize = 136,
                      kOffset = 144;
constexpr std::size_t kOutputNameBytes = 88;

constexpr std::size_t descriptor(std::size_t tensor) {
  return kHeaderBytes + tensor * kDescriptorBytes;
}
constexpr std::size_t output_name(std::size_t tensors, std::size_t name) {
  return descriptor(tensors) + name * kOutputNameBytes;
}
}  // namespace wire

constexpr std::uint64_t kJob = 42;

std::uint64_t align64(std::uint64_t value) {
  return (value + 63) & ~std::uint64_t{63};
}

// A frame in an owned buffer, built with the encoder, each tensor's bytes a pattern of its index.
struct Encoded {
  FramePlan plan;
  std::vector<std::byte> bytes;
};

std::byte pattern(std::size_t tensor, std::size_t at) {
  return static_cast<std::byte>((tensor * 31 + at * 7 + 1) & 0xff);
}

Encoded encode(std::string_view model, std::span<const TensorLayout> tensors,
               std::span<const std::string_view> outputs, FrameKind kind = FrameKind::kRequest,
               std::uint64_t job_id = kJob) {
  Encoded frame;
  frame.plan = plan_frame(model, tensors, outputs).value();
  frame.bytes.resize(frame.plan.total_bytes);
  const auto payloads = write_frame(frame.bytes, frame.plan, kind, job_id, model, tensors, outputs);
  EXPECT_EQ(payloads.size(), tensors.size());
  for (std::size_t t = 0; t < payloads.size(); ++t) {
    for (std::size_t at = 0; at < payloads[t].size(); ++at)
      payloads[t][at] = pattern(t, at);
  }
  return frame;
}

void expect_tensor(const TensorView& view, const TensorLayout& layout, std::size_t index) {
  EXPECT_EQ(view.name, layout.name);
  EXPECT_EQ(view.dtype, layout.dtype) << dtype_name(layout.dtype);
  EXPECT_TRUE(std::ranges::equal(view.shape(), layout.dims)) << shape_to_string(view.shape());
  ASSERT_EQ(view.data.size(), checked_byte_size(layout.dtype, layout.dims).value());
  for (std::size_t at = 0; at < view.data.size(); ++at) {
    if (view.data[at] != pattern(index, at)) {
      ADD_FAILURE() << "tensor " << index << " byte " << at << " changed";
      return;
    }
  }
}

template <class T>
void poke(std::vector<std::byte>& bytes, std::size_t offset, T value) {
  ASSERT_LE(offset + sizeof(T), bytes.size());
  std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

template <class T>
T peek_at(const std::vector<std::byte>& bytes, std::size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

// Every view a decoded frame hands out must lie inside the record it came from.
void expect_inside(const FrameView& frame, std::span<const std::byte> record) {
  const auto* begin = reinterpret_cast<const char*>(record.data());
  const auto* end = begin + record.size();
  const auto inside = [&](const char* from, std::size_t length) {
    return from >= begin && from <= end && length <= static_cast<std::size_t>(end - from);
  };
  EXPECT_TRUE(inside(frame.model_name.data(), frame.model_name.size()));
  for (const auto& tensor : frame.tensors) {
    EXPECT_TRUE(inside(tensor.name.data(), tensor.name.size()));
    EXPECT_TRUE(inside(reinterpret_cast<const char*>(tensor.data.data()), tensor.data.size()));
    EXPECT_LE(tensor.ndim, kMaxDims);
  }
  for (const auto& name : frame.output_names)
    EXPECT_TRUE(inside(name.data(), name.size()));
}

class Frame_test : public ShmFixture {
 protected:
  Frame_test() : ShmFixture("ivt-frame") {}
};

TEST_F(Frame_test, WireLayoutIsWhatTheseTestsPoke) {
  const std::int64_t dims[] = {2};
  const TensorLayout tensors[] = {{"a", DType::kUInt8, dims}, {"b", DType::kUInt8, dims}};
  const std::string_view outputs[] = {"y", "z", "w"};
  const auto frame = encode("m", tensors, outputs, FrameKind::kResponse, 0x1122334455667788);
  EXPECT_EQ(frame.plan.payload_offsets[0], align64(wire::output_name(2, 3)));
  EXPECT_EQ(peek_at<std::uint16_t>(frame.bytes, wire::kKind), 2);
  EXPECT_EQ(peek_at<std::uint64_t>(frame.bytes, wire::kJobId), 0x1122334455667788u);
  EXPECT_EQ(peek_at<std::uint64_t>(frame.bytes, wire::kFrameBytes), frame.bytes.size());
  EXPECT_EQ(peek_at<std::uint32_t>(frame.bytes, wire::kTensorCount), 2u);
  EXPECT_EQ(peek_at<std::uint32_t>(frame.bytes, wire::kOutputNameCount), 3u);
  EXPECT_EQ(peek_at<std::uint32_t>(frame.bytes, wire::kModelNameBytes), 1u);
  EXPECT_EQ(peek_at<std::uint32_t>(frame.bytes, wire::descriptor(1) + wire::kNameBytes), 1u);
  EXPECT_EQ(peek_at<std::uint8_t>(frame.bytes, wire::descriptor(1) + wire::kDType),
            static_cast<std::uint8_t>(DType::kUInt8));
  EXPECT_EQ(peek_at<std::uint8_t>(frame.bytes, wire::descriptor(1) + wire::kNDim), 1u);
  EXPECT_EQ(peek_at<std::int64_t>(frame.bytes, wire::descriptor(1) + wire::kDims), 2);
  EXPECT_EQ(peek_at<std::uint64_t>(frame.bytes, wire::descriptor(1) + wire::kByteSize), 2u);
  EXPECT_EQ(peek_at<std::uint64_t>(frame.bytes, wire::descriptor(1) + wire::kOffset),
            frame.plan.payload_offsets[1]);
  EXPECT_EQ(peek_at<std::uint32_t>(frame.bytes, wire::output_name(2, 2)), 1u);
  EXPECT_EQ(peek_at<std::uint16_t>(frame.bytes, wire::kVersion), 4);
  auto with_times = frame.bytes;
  write_stage_times(with_times, {1, 2, 3});
  EXPECT_EQ(peek_at<std::uint64_t>(with_times, wire::kStageTimes), 1u);
  EXPECT_EQ(peek_at<std::uint64_t>(with_times, wire::kStageTimes + 16), 3u);
}

TEST_F(Frame_test, StageTimesTravelInResponses) {
  const std::int64_t dims[] = {2};
  const TensorLayout tensors[] = {{"y", DType::kFloat32, dims}};
  auto frame = encode("m", tensors, {}, FrameKind::kResponse);
  const auto before = decode_frame(frame.bytes, kJob);
  ASSERT_TRUE(before) << before.error().message;
  EXPECT_EQ(before->stages, StageTimes{});
  const StageTimes stages{1'500, 2'000'000, kMaxStageNanoseconds};
  write_stage_times(frame.bytes, stages);
  const auto sut = decode_frame(frame.bytes, kJob);
  ASSERT_TRUE(sut) << sut.error().message;
  EXPECT_EQ(sut->stages, stages);
  const auto only_times = decode_stage_times(frame.bytes, false);
  ASSERT_TRUE(only_times) << only_times.error().message;
  EXPECT_EQ(*only_times, stages);

  write_stage_times(frame.bytes, {0, kMaxStageNanoseconds + 1, 0});
  ASSERT_FALSE(decode_frame(frame.bytes, kJob));
  const auto refused = decode_stage_times(frame.bytes, false);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("beyond"), std::string::npos) << refused.error().message;
  EXPECT_FALSE(decode_stage_times(std::span(frame.bytes).first(wire::kHeaderBytes - 1), false));
}

TEST_F(Frame_test, EveryDTypeRoundTrips) {
  for (const DType dtype : kAllDTypes) {
    const std::int64_t dims[] = {3, 5};
    const TensorLayout tensors[] = {{dtype_name(dtype), dtype, dims}};
    const std::string_view outputs[] = {"out"};
    const auto kind = dtype == DType::kBool ? FrameKind::kResponse : FrameKind::kRequest;
    const auto frame = encode("model", tensors, outputs, kind);
    EXPECT_EQ(frame.plan.payload_bytes[0], 15 * dtype_size(dtype));

    const auto sut = decode_frame(frame.bytes, kJob);
    ASSERT_TRUE(sut) << dtype_name(dtype) << ": " << sut.error().message;
    EXPECT_EQ(sut->kind, kind);
    EXPECT_EQ(sut->job_id, kJob);
    EXPECT_EQ(sut->model_name, "model");
    ASSERT_EQ(sut->tensors.size(), 1u);
    expect_tensor(sut->tensors[0], tensors[0], 0);
    ASSERT_EQ(sut->output_names.size(), 1u);
    EXPECT_EQ(sut->output_names[0], "out");
  }
}

TEST_F(Frame_test, AllDTypesInOneFrameGetAlignedDisjointPayloads) {
  std::vector<std::vector<std::int64_t>> shapes;
  std::vector<TensorLayout> tensors;
  for (std::size_t i = 0; i < std::size(kAllDTypes); ++i) {
    shapes.push_back({static_cast<std::int64_t>(i + 1), 7});
  }
  for (std::size_t i = 0; i < std::size(kAllDTypes); ++i) {
    tensors.push_back({dtype_name(kAllDTypes[i]), kAllDTypes[i], shapes[i]});
  }
  const auto frame = encode("all", tensors, {});
  std::uint64_t floor = align64(wire::output_name(tensors.size(), 0));
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(frame.plan.payload_offsets[i] % kPayloadAlignment, 0u);
    EXPECT_GE(frame.plan.payload_offsets[i], floor);
    floor = frame.plan.payload_offsets[i] + frame.plan.payload_bytes[i];
  }
  EXPECT_EQ(frame.plan.total_bytes, align64(floor));

  const auto sut = decode_frame(frame.bytes, kJob);
  ASSERT_TRUE(sut) << sut.error().message;
  ASSERT_EQ(sut->tensors.size(), tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i)
    expect_tensor(sut->tensors[i], tensors[i], i);
  EXPECT_TRUE(sut->output_names.empty());
}

TEST_F(Frame_test, ZeroElementTensorsAndScalarsRoundTrip) {
  const std::int64_t empty[] = {0};
  const std::int64_t empty_middle[] = {4, 0, 3};
  const std::int64_t some[] = {2, 2};
  const std::int64_t empty_last[] = {5, 0};
  const TensorLayout tensors[] = {{"empty", DType::kFloat32, empty},
                                  {"empty_middle", DType::kInt64, empty_middle},
                                  {"scalar", DType::kFloat64, {}},
                                  {"some", DType::kInt16, some},
                                  {"empty_last", DType::kBFloat16, empty_last}};
  const auto frame = encode("zeros", tensors, {});
  EXPECT_EQ(frame.plan.payload_bytes[0], 0u);
  EXPECT_EQ(frame.plan.payload_bytes[2], 8u);

  const auto sut = decode_frame(frame.bytes, kJob);
  ASSERT_TRUE(sut) << sut.error().message;
  ASSERT_EQ(sut->tensors.size(), std::size(tensors));
  for (std::size_t i = 0; i < std::size(tensors); ++i) {
    expect_tensor(sut->tensors[i], tensors[i], i);
  }
  EXPECT_TRUE(sut->tensors[0].data.empty());
  EXPECT_EQ(sut->tensors[2].ndim, 0u);
  expect_inside(*sut, frame.bytes);
}

TEST_F(Frame_test, FrameWithoutTensorsRoundTrips) {
  const auto frame = encode("m", {}, {});
  EXPECT_EQ(frame.plan.total_bytes, align64(wire::kHeaderBytes));
  const auto sut = decode_frame(frame.bytes, kJob);
  ASSERT_TRUE(sut) << sut.error().message;
  EXPECT_TRUE(sut->tensors.empty());
  EXPECT_EQ(sut->model_name, "m");
}

TEST_F(Frame_test, LimitsAreInclusive) {
  const std::string model(kMaxModelNameBytes, 'm');
  const std::string name(kMaxTensorNameBytes, 't');
  const std::int64_t dims[kMaxDims] = {1, 2, 1, 2, 1, 2, 1, 2};
  std::vector<TensorLayout> tensors(kMaxFrameTensors, TensorLayout{name, DType::kUInt8, dims});
  std::vector<std::string_view> outputs(kMaxFrameTensors, name);
  const auto frame = encode(model, tensors, outputs);
  const auto sut = decode_frame(frame.bytes, kJob);
  ASSERT_TRUE(sut) << sut.error().message;
  EXPECT_EQ(sut->model_name, model);
  ASSERT_EQ(sut->tensors.size(), kMaxFrameTensors);
  EXPECT_EQ(sut->output_names.size(), kMaxFrameTensors);
  expect_tensor(sut->tensors.back(), tensors.back(), kMaxFrameTensors - 1);
  EXPECT_EQ(sut->tensors.back().ndim, kMaxDims);
  EXPECT_EQ(sut->output_names.back(), name);
}

TEST_F(Frame_test, PlanRefusesWhatTheWireCannotSay) {
  const std::int64_t ok[] = {2};
  const std::int64_t negative[] = {2, -1};
  const std::int64_t overflowing[] = {std::int64_t{1} << 62, 16};
  const std::int64_t too_many_dims[kMaxDims + 1] = {};
  const std::string long_model(kMaxModelNameBytes + 1, 'm');
  const std::string long_name(kMaxTensorNameBytes + 1, 't');
  const std::vector<TensorLayout> too_many_tensors(kMaxFrameTensors + 1,
                                                   TensorLayout{"t", DType::kUInt8, ok});
  const std::vector<std::string_view> too_many_outputs(kMaxFrameTensors + 1, "y");
  const TensorLayout one[] = {{"t", DType::kUInt8, ok}};
  const std::string_view empty_output[] = {""};
  const std::string_view long_output[] = {long_name};
  struct Case {
    const char* what;
    std::string_view model;
    std::vector<TensorLayout> tensors;
    std::vector<std::string_view> outputs;
  };
  const Case cases[] = {
      {"empty model name", "", {one[0]}, {}},
      {"long model name", long_model, {one[0]}, {}},
      {"too many tensors", "m", too_many_tensors, {}},
      {"too many output names", "m", {one[0]}, too_many_outputs},
      {"empty tensor name", "m", {{"", DType::kUInt8, ok}}, {}},
      {"long tensor name", "m", {{long_name, DType::kUInt8, ok}}, {}},
      {"empty output name", "m", {one[0]}, {empty_output[0]}},
      {"long output name", "m", {one[0]}, {long_output[0]}},
      {"too many dims", "m", {{"t", DType::kUInt8, too_many_dims}}, {}},
      {"negative dim", "m", {{"t", DType::kFloat32, negative}}, {}},
      {"byte size overflow", "m", {{"t", DType::kFloat32, overflowing}}, {}},
  };
  for (const auto& c : cases) {
    const auto sut = plan_frame(c.model, c.tensors, c.outputs);
    ASSERT_FALSE(sut) << c.what;
    EXPECT_EQ(sut.error().code, ErrorCode::kInvalidArgument) << c.what;
  }
  // Each tensor alone is describable; together they overflow the frame's offsets.
  const std::int64_t half[] = {std::numeric_limits<std::int64_t>::max()};
  const TensorLayout two_halves[] = {{"a", DType::kUInt8, half}, {"b", DType::kUInt8, half}};
  const auto sut = plan_frame("m", two_halves, {});
  ASSERT_FALSE(sut);
  EXPECT_EQ(sut.error().code, ErrorCode::kTooLarge);
}

TEST_F(Frame_test, FrameThroughARingIsAlignedInPlace) {
  auto segment = Segment::create(prefix(), {kMinRingBytes, kMinRingBytes}, 1).value();
  const RingView ring = segment.request_ring();
  RingWriter writer(ring, Doorbell(&ring.control->data_ready, -1));
  RingReader reader(ring, Doorbell(&ring.control->space_ready, -1));
  const std::int64_t dims[] = {3, 3};
  const TensorLayout tensors[] = {{"a", DType::kInt8, dims}, {"b", DType::kFloat64, dims}};
  const std::string_view outputs[] = {"y"};
  for (std::uint64_t job = 1; job <= 200; ++job) {  // enough to wrap a few times
    const auto plan = plan_frame("m", tensors, outputs).value();
    auto reservation = writer.try_reserve(RecordType::kRequest, job, plan.total_bytes);
    ASSERT_TRUE(reservation && *reservation);
    const auto payloads =
        write_frame((*reservation)->payload, plan, FrameKind::kRequest, job, "m", tensors, outputs);
    for (std::size_t t = 0; t < payloads.size(); ++t) {
      for (std::size_t at = 0; at < payloads[t].size(); ++at)
        payloads[t][at] = pattern(t, at);
    }
    writer.commit(**reservation);

    const auto record = reader.try_peek();
    ASSERT_TRUE(record && *record);
    const auto sut = decode_frame((*record)->payload, (*record)->job_id);
    ASSERT_TRUE(sut) << sut.error().message;
    ASSERT_EQ(sut->tensors.size(), 2u);
    for (std::size_t t = 0; t < 2; ++t) {
      expect_tensor(sut->tensors[t], tensors[t], t);
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(sut->tensors[t].data.data()) % kPayloadAlignment,
                0u);
    }
    reader.release(**record);
  }
}

// ---------------------------------------------------------------------------------------------
// Corrupt frames. The base frame: model "resnet", tensors x: float32 [2, 3] and mask: bool [4],
// output names y and z; tables end at 648, payloads at 704 (24 bytes) and 768 (4), 832 in all.
Encoded base_frame() {
  static const std::int64_t x_dims[] = {2, 3};
  static const std::int64_t mask_dims[] = {4};
  const TensorLayout tensors[] = {{"x", DType::kFloat32, x_dims},
                                  {"mask", DType::kBool, mask_dims}};
  const std::string_view outputs[] = {"y", "z"};
  return encode("resnet", tensors, outputs);
}

constexpr std::size_t kX = wire::descriptor(0);
constexpr std::size_t kMask = wire::descriptor(1);
constexpr std::size_t kY = wire::output_name(2, 0);

struct BadFrame {
  const char* name;
  void (*edit)(std::vector<std::byte>& frame);
  const char* says;
};

void PrintTo(const BadFrame& bad, std::ostream* out) {
  *out << bad.name;
}

class Frame_corrupt_test : public Frame_test, public ::testing::WithParamInterface<BadFrame> {};

TEST_P(Frame_corrupt_test, DecodeRefusesIt) {
  auto frame = base_frame();
  ASSERT_EQ(frame.bytes.size(), 832u);
  ASSERT_EQ(frame.plan.payload_offsets[0], 704u);
  ASSERT_EQ(frame.plan.payload_offsets[1], 768u);
  GetParam().edit(frame.bytes);
  const auto sut = decode_frame(frame.bytes, kJob);
  ASSERT_FALSE(sut) << "decoded a frame with " << GetParam().name;
  EXPECT_EQ(sut.error().code, ErrorCode::kCorrupt);
  EXPECT_NE(sut.error().message.find(GetParam().says), std::string::npos) << sut.error().message;
}

constexpr auto kU64Max = std::numeric_limits<std::uint64_t>::max();

const BadFrame kBadFrames[] = {
    // The frame header.
    {"magic", [](auto& f) { poke<std::uint32_t>(f, wire::kMagic, 0x52465648); }, "magic"},
    {"version", [](auto& f) { poke<std::uint16_t>(f, wire::kVersion, 1); }, "version 1"},
    {"stage_times_in_a_request", [](auto& f) { poke<std::uint64_t>(f, wire::kStageTimes + 8, 1); },
     "carries stage times"},
    {"stage_time_huge", [](auto& f) { poke<std::uint64_t>(f, wire::kStageTimes, kU64Max); },
     "beyond"},
    {"kind_zero", [](auto& f) { poke<std::uint16_t>(f, wire::kKind, 0); }, "kind 0"},
    {"kind_three", [](auto& f) { poke<std::uint16_t>(f, wire::kKind, 3); }, "kind 3"},
    {"job_id", [](auto& f) { poke<std::uint64_t>(f, wire::kJobId, kJob + 1); }, "job 43"},
    {"frame_bytes_larger", [](auto& f) { poke<std::uint64_t>(f, wire::kFrameBytes, 896); },
     "says 896 bytes"},
    {"frame_bytes_smaller", [](auto& f) { poke<std::uint64_t>(f, wire::kFrameBytes, 831); },
     "says 831 bytes"},
    {"frame_bytes_huge", [](auto& f) { poke<std::uint64_t>(f, wire::kFrameBytes, kU64Max); },
     "says"},
    {"tensor_count_over_limit",
     [](auto& f) { poke<std::uint32_t>(f, wire::kTensorCount, kMaxFrameTensors + 1); }, "claims"},
    {"tensor_count_huge", [](auto& f) { poke<std::uint32_t>(f, wire::kTensorCount, 0xffffffff); },
     "claims"},
    {"output_name_count_over_limit",
     [](auto& f) { poke<std::uint32_t>(f, wire::kOutputNameCount, kMaxFrameTensors + 1); },
     "claims"},
    {"tables_beyond_frame", [](auto& f) { poke<std::uint32_t>(f, wire::kTensorCount, 100); },
     "tables need"},
    // One more output name than written: the tables then reach into the first payload.
    {"output_name_count_one_more",
     [](auto& f) { poke<std::uint32_t>(f, wire::kOutputNameCount, 3); }, "overlaps"},
    {"model_name_empty", [](auto& f) { poke<std::uint32_t>(f, wire::kModelNameBytes, 0); },
     "model name length 0"},
    {"model_name_too_long",
     [](auto& f) { poke<std::uint32_t>(f, wire::kModelNameBytes, kMaxModelNameBytes + 1); },
     "model name length 129"},
    // Tensor descriptors.
    {"name_empty", [](auto& f) { poke<std::uint32_t>(f, kX + wire::kNameBytes, 0); },
     "tensor 0 name length 0"},
    {"name_too_long",
     [](auto& f) { poke<std::uint32_t>(f, kMask + wire::kNameBytes, kMaxTensorNameBytes + 1); },
     "tensor 1 name length 65"},
    {"dtype_zero", [](auto& f) { poke<std::uint8_t>(f, kX + wire::kDType, 0); }, "unknown dtype 0"},
    {"dtype_past_last", [](auto& f) { poke<std::uint8_t>(f, kX + wire::kDType, 11); },
     "unknown dtype 11"},
    {"dtype_all_ones", [](auto& f) { poke<std::uint8_t>(f, kMask + wire::kDType, 255); },
     "unknown dtype 255"},
    {"ndim_over_limit", [](auto& f) { poke<std::uint8_t>(f, kX + wire::kNDim, kMaxDims + 1); },
     "9 dimensions"},
    {"ndim_all_ones", [](auto& f) { poke<std::uint8_t>(f, kX + wire::kNDim, 255); },
     "255 dimensions"},
    {"ndim_one_fewer", [](auto& f) { poke<std::uint8_t>(f, kX + wire::kNDim, 1); },
     "shape does not give"},
    {"dim_negative", [](auto& f) { poke<std::int64_t>(f, kX + wire::kDims, -2); },
     "shape does not give"},
    {"dim_changed", [](auto& f) { poke<std::int64_t>(f, kX + wire::kDims, 3); },
     "shape does not give"},
    {"dtype_changed_size",
     [](auto& f) {
       poke<std::uint8_t>(f, kX + wire::kDType, static_cast<std::uint8_t>(DType::kFloat64));
     },
     "shape does not give"},
    {"byte_size_one_more", [](auto& f) { poke<std::uint64_t>(f, kX + wire::kByteSize, 25); },
     "shape does not give"},
    {"byte_size_smaller", [](auto& f) { poke<std::uint64_t>(f, kMask + wire::kByteSize, 3); },
     "shape does not give"},
    {"byte_size_of_overflowing_shape",
     [](auto& f) {
       poke<std::int64_t>(f, kX + wire::kDims, std::int64_t{1} << 62);
       poke<std::int64_t>(f, kX + wire::kDims + 8, 16);
       poke<std::uint64_t>(f, kX + wire::kByteSize, 0);  // what the wrapped product would give
     },
     "shape does not give"},
    {"byte_size_huge_but_consistent",
     [](auto& f) {
       poke<std::int64_t>(f, kX + wire::kDims, std::int64_t{1} << 61);
       poke<std::int64_t>(f, kX + wire::kDims + 8, 1);
       poke<std::uint64_t>(f, kX + wire::kByteSize, std::uint64_t{1} << 63);
     },
     "leaves"},
    {"offset_misaligned", [](auto& f) { poke<std::uint64_t>(f, kX + wire::kOffset, 712); },
     "misaligned"},
    {"offset_inside_tables", [](auto& f) { poke<std::uint64_t>(f, kX + wire::kOffset, 640); },
     "overlaps"},
    {"offset_zero", [](auto& f) { poke<std::uint64_t>(f, kX + wire::kOffset, 0); }, "overlaps"},
    {"offsets_overlapping", [](auto& f) { poke<std::uint64_t>(f, kMask + wire::kOffset, 704); },
     "overlaps"},
    {"offsets_out_of_order",
     [](auto& f) {
       poke<std::uint64_t>(f, kX + wire::kOffset, 768);
       poke<std::uint64_t>(f, kMask + wire::kOffset, 704);
     },
     "overlaps"},
    {"offset_past_end", [](auto& f) { poke<std::uint64_t>(f, kMask + wire::kOffset, 832); },
     "leaves"},
    {"offset_end_overflows",
     [](auto& f) { poke<std::uint64_t>(f, kMask + wire::kOffset, kU64Max - 63); }, "leaves"},
    // Output names.
    {"output_name_empty", [](auto& f) { poke<std::uint32_t>(f, kY, 0); }, "output name 0 length 0"},
    {"output_name_too_long",
     [](auto& f) { poke<std::uint32_t>(f, kY + wire::kOutputNameBytes, kMaxTensorNameBytes + 1); },
     "output name 1 length 65"},
};

INSTANTIATE_TEST_SUITE_P(EveryField, Frame_corrupt_test, ::testing::ValuesIn(kBadFrames),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(Frame_test, ShortRecordsAreRefused) {
  const auto frame = base_frame();
  for (std::size_t length = 0; length < frame.bytes.size(); ++length) {
    const auto sut = decode_frame(std::span(frame.bytes).first(length), kJob);
    ASSERT_FALSE(sut) << length << " bytes";
    EXPECT_EQ(sut.error().code, ErrorCode::kCorrupt);
  }
}

TEST_F(Frame_test, TruncatedFramesThatSayTheirSizeNeverEscapeTheRecord) {
  const auto frame = base_frame();
  for (std::size_t length = 0; length <= frame.bytes.size(); ++length) {
    // Heap copies of exactly `length` bytes: ASan sees any read past the end.
    std::vector<std::byte> cut(frame.bytes.begin(), frame.bytes.begin() + length);
    if (length >= wire::kFrameBytes + 8) poke<std::uint64_t>(cut, wire::kFrameBytes, length);
    const auto sut = decode_frame(cut, kJob);
    // Past the last tensor's end only alignment padding is missing.
    const auto last_end = frame.plan.payload_offsets.back() + frame.plan.payload_bytes.back();
    EXPECT_EQ(static_cast<bool>(sut), length >= last_end) << length << " bytes";
    if (sut) expect_inside(*sut, cut);
  }
}

TEST_F(Frame_test, RandomCorruptionNeverEscapesTheRecord) {
  const auto original = base_frame();
  Random random(2024);
  int decoded = 0;
  for (int round = 0; round < 20000; ++round) {
    auto bytes = original.bytes;
    // Scribble where it matters most: the header, descriptors and names.
    for (auto flips = random.below(4) + 1; flips > 0; --flips) {
      const auto at = random.below(kY + 2 * wire::kOutputNameBytes);
      if (random.below(2) == 0) {
        bytes[at] ^= static_cast<std::byte>(1u << random.below(8));
      } else if (at + 8 <= bytes.size()) {
        poke<std::uint64_t>(bytes, at & ~std::size_t{7}, random.next() >> random.below(64));
      }
    }
    const auto sut = decode_frame(bytes, kJob);
    if (sut) {
      ++decoded;
      expect_inside(*sut, bytes);
    } else {
      EXPECT_EQ(sut.error().code, ErrorCode::kCorrupt);
    }
    if (HasFailure()) break;
  }
  // Flips in names and reserved bytes leave a valid frame: both paths ran.
  EXPECT_GT(decoded, 0);
}

// ---------------------------------------------------------------------------------------------
TEST_F(Frame_test, ErrorPayloadsRoundTrip) {
  const std::string long_message(kMaxErrorMessageBytes + 100, 'e');
  for (const auto kind : {JobErrorKind::kInternal, JobErrorKind::kModel, JobErrorKind::kBadInput,
                          JobErrorKind::kTooLarge, JobErrorKind::kStartup}) {
    for (const std::string_view message :
         {std::string_view(""), std::string_view("forward() raised"),
          std::string_view(long_message)}) {
      std::vector<std::byte> payload(error_payload_bytes(message));
      const StageTimes stages{7, message.size(), 9};
      write_error_payload(payload, kind, message, stages);
      const auto sut = decode_error_payload(payload);
      ASSERT_TRUE(sut) << sut.error().message;
      EXPECT_EQ(sut->kind, kind);
      EXPECT_EQ(sut->message, message.substr(0, kMaxErrorMessageBytes));
      EXPECT_EQ(sut->stages, stages);
      const auto only_times = decode_stage_times(payload, true);
      ASSERT_TRUE(only_times) << only_times.error().message;
      EXPECT_EQ(*only_times, stages);
    }
  }
}

TEST_F(Frame_test, CorruptErrorPayloadsAreRefused) {
  std::vector<std::byte> valid(error_payload_bytes("boom"));
  write_error_payload(valid, JobErrorKind::kModel, "boom");
  const auto refused = [](std::span<const std::byte> payload, const char* says) {
    const auto sut = decode_error_payload(payload);
    ASSERT_FALSE(sut) << says;
    EXPECT_EQ(sut.error().code, ErrorCode::kCorrupt);
    EXPECT_NE(sut.error().message.find(says), std::string::npos) << sut.error().message;
  };
  for (std::size_t length = 0; length < wire::kErrorHeaderBytes; ++length) {
    refused(std::span(valid).first(length), "has no header");
  }
  auto old = valid;
  poke<std::uint16_t>(old, wire::kErrorVersion, 1);
  refused(old, "version 1");
  EXPECT_FALSE(decode_stage_times(old, true));
  auto slow = valid;
  poke<std::uint64_t>(slow, wire::kErrorStageTimes + 16, kMaxStageNanoseconds + 1);
  refused(slow, "beyond");
  auto bad = valid;
  poke<std::uint32_t>(bad, 0, 0);
  refused(bad, "unknown kind 0");
  poke<std::uint32_t>(bad, 0, static_cast<std::uint32_t>(JobErrorKind::kStartup) + 1);
  refused(bad, "unknown kind 6");
  bad = valid;
  poke<std::uint32_t>(bad, 4, 5);  // one more than the record holds
  refused(bad, "overruns");
  poke<std::uint32_t>(bad, 4, 0xffffffff);
  refused(bad, "overruns");
  // Longer than any message may be, even though the record holds it.
  std::vector<std::byte> roomy(wire::kErrorHeaderBytes + kMaxErrorMessageBytes + 1);
  write_error_payload(roomy, JobErrorKind::kInternal, "x");
  poke<std::uint32_t>(roomy, 4, kMaxErrorMessageBytes + 1);
  refused(roomy, "overruns");
}

// Client shared-memory regions (frame v3): tensors in a region take no payload bytes, output
// placements and the region table round-trip, and every reference is checked against the table.
TEST_F(Frame_test, RegionReferencesRoundTripAndAreBoundsChecked) {
  const std::int64_t dims[] = {4, 8};
  const RegionRef regions[] = {{7, 11, 13, 4096, 1024, "/client_a"}, {8, 11, 14, 0, 64, "/b"}};
  const TensorLayout tensors[] = {{"in_region", DType::kFloat32, dims, 1, 512},
                                  {"inline", DType::kUInt8, dims}};
  const std::string_view outputs[] = {"y", "z"};
  const OutputPlacement placements[] = {{2, 0, 64}, {}};
  const FrameRegions where{regions, placements};
  const auto plan = plan_frame("m", tensors, outputs, where);
  ASSERT_TRUE(plan) << plan.error().message;
  std::vector<std::byte> bytes(plan->total_bytes);
  const auto payloads =
      write_frame(bytes, *plan, FrameKind::kRequest, kJob, "m", tensors, outputs, where);
  EXPECT_TRUE(payloads[0].empty());
  EXPECT_EQ(payloads[1].size(), 32u);
  const auto view = decode_frame(bytes, kJob);
  ASSERT_TRUE(view) << view.error().message;
  ASSERT_EQ(view->regions.size(), 2u);
  EXPECT_EQ(view->regions[0], regions[0]);
  EXPECT_EQ(view->regions[1], regions[1]);
  EXPECT_EQ(view->tensors[0].region, 1);
  EXPECT_EQ(view->tensors[0].region_offset, 512u);
  EXPECT_EQ(view->tensors[0].byte_size, 128u);
  EXPECT_TRUE(view->tensors[0].data.empty());
  EXPECT_EQ(view->tensors[1].region, 0);
  ASSERT_EQ(view->output_placements.size(), 2u);
  EXPECT_EQ(view->output_placements[0], placements[0]);
  EXPECT_EQ(view->output_placements[1], OutputPlacement{});

  // The encoder refuses references it cannot stand behind.
  const TensorLayout past_end[] = {{"t", DType::kFloat32, dims, 1, 1024 - 127}};
  EXPECT_FALSE(plan_frame("m", past_end, {}, {regions, {}}));
  const TensorLayout no_such[] = {{"t", DType::kFloat32, dims, 3, 0}};
  EXPECT_FALSE(plan_frame("m", no_such, {}, {regions, {}}));
  const OutputPlacement too_long[] = {{2, 1, 64}, {}};
  EXPECT_FALSE(plan_frame("m", tensors, outputs, {regions, too_long}));
  const OutputPlacement one_short[] = {{2, 0, 64}};
  EXPECT_FALSE(plan_frame("m", tensors, outputs, {regions, one_short}));

  // The decoder refuses a corrupted reference: a region index past the table, a range past the
  // registered size, a key length out of range.
  const std::size_t table = wire::output_name(2, 2);
  auto corrupt = bytes;
  poke(corrupt, wire::descriptor(0) + 6, std::uint16_t{3});  // the descriptor's region index
  EXPECT_FALSE(decode_frame(corrupt, kJob));
  corrupt = bytes;
  poke(corrupt, wire::descriptor(0) + wire::kOffset, std::uint64_t{1024 - 64});
  EXPECT_FALSE(decode_frame(corrupt, kJob));
  corrupt = bytes;
  poke(corrupt, table + 40, std::uint32_t{0});  // region 0's key length
  EXPECT_FALSE(decode_frame(corrupt, kJob));
  corrupt = bytes;
  poke(corrupt, table + 40, std::uint32_t{256});
  EXPECT_FALSE(decode_frame(corrupt, kJob));
  corrupt = bytes;
  poke(corrupt, wire::output_name(2, 0) + 4, std::uint16_t{5});  // output y's region index
  EXPECT_FALSE(decode_frame(corrupt, kJob));
}

// CUDA regions (frame v4): the table entry carries the kind and the raw 64-byte handle, binary
// bytes included; a CUDA entry whose handle is not 64 bytes, or an unknown kind, is refused.
TEST_F(Frame_test, CudaRegionsCarryTheirHandle) {
  const std::int64_t dims[] = {4};
  std::string handle(kCudaIpcHandleBytes, '\0');
  for (std::size_t i = 0; i < handle.size(); ++i)
    handle[i] = static_cast<char>(i * 7);
  RegionRef regions[] = {{9, 0, 0, 0, 4096, handle, 0, RegionKind::kCuda},
                         {10, 11, 13, 0, 64, "/host", 0, RegionKind::kSystem}};
  const TensorLayout tensors[] = {{"x", DType::kFloat32, dims, 1, 64}};
  const FrameRegions where{regions, {}};
  const auto plan = plan_frame("m", tensors, {}, where);
  ASSERT_TRUE(plan) << plan.error().message;
  std::vector<std::byte> bytes(plan->total_bytes);
  write_frame(bytes, *plan, FrameKind::kRequest, kJob, "m", tensors, {}, where);
  const auto view = decode_frame(bytes, kJob);
  ASSERT_TRUE(view) << view.error().message;
  ASSERT_EQ(view->regions.size(), 2u);
  EXPECT_EQ(view->regions[0], regions[0]);
  EXPECT_EQ(view->regions[0].key, handle);
  EXPECT_EQ(view->regions[1].kind, RegionKind::kSystem);

  const std::size_t table = wire::output_name(1, 0);
  auto corrupt = bytes;
  poke(corrupt, table + 44 + 4, std::uint32_t{2});  // region 0's kind
  EXPECT_FALSE(decode_frame(corrupt, kJob));
  corrupt = bytes;
  poke(corrupt, table + 40, std::uint32_t{63});  // region 0's key length
  EXPECT_FALSE(decode_frame(corrupt, kJob));

  regions[0].key = std::string_view(handle).substr(1);
  EXPECT_FALSE(plan_frame("m", tensors, {}, where));
}

}  // namespace
}  // namespace infervisor::shm
