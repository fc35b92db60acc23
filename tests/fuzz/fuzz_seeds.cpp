// Writes the generated part of the fuzzers' seed corpus: inputs made by the project's own
// encoders (write_frame, write_error_payload, RingWriter, encode_npy) and KServe requests for
// every datatype, each checked to decode before it is written. Deterministic, so that
// scripts/fuzz.sh can tell when the committed seeds no longer match what the encoders write.
//
//   fuzz_seeds DIR    writes DIR/<target>/<seed> for kserve_request, frame, ring and npy
// (The config seeds are hand-written YAML files in tests/fuzz/corpus/config.)
#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "common/npy.hpp"
#include "shm/frame.hpp"
#include "shm/ring.hpp"
#include "supervisor/kserve_request.hpp"
#include "tests/fuzz/kserve_models.hpp"
#include "tests/fuzz/ring_input.hpp"

namespace infervisor {
namespace {

using Bytes = std::vector<std::byte>;

[[noreturn]] void die(std::string_view message) {
  fmt::print(stderr, "fuzz_seeds: {}\n", message);
  std::exit(1);
}

class SeedWriter {
 public:
  explicit SeedWriter(std::filesystem::path root) : root_(std::move(root)) {}

  void write(std::string_view target, std::string_view name, std::span<const std::byte> bytes) {
    const auto folder = root_ / target;
    std::filesystem::create_directories(folder);
    std::ofstream out(folder / name, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out) die(fmt::format("cannot write {}", (folder / name).string()));
  }
  void write(std::string_view target, std::string_view name, std::string_view text) {
    write(target, name, std::as_bytes(std::span(text.data(), text.size())));
  }

 private:
  std::filesystem::path root_;
};

void append(Bytes& out, const void* data, std::size_t size) {
  const auto* bytes = static_cast<const std::byte*>(data);
  out.insert(out.end(), bytes, bytes + size);
}

// --- kserve_request ---------------------------------------------------------------------------

struct DTypeValues {
  DType dtype;
  const char* values[4];  // JSON numbers for a [2, 2] tensor: edges of the datatype's range
};

constexpr DTypeValues kValues[] = {
    {DType::kBool, {"true", "false", "false", "true"}},
    {DType::kUInt8, {"0", "1", "127", "255"}},
    {DType::kInt8, {"-128", "-1", "0", "127"}},
    {DType::kInt16, {"-32768", "-1", "1", "32767"}},
    {DType::kInt32, {"-2147483648", "0", "1", "2147483647"}},
    {DType::kInt64, {"-9223372036854775808", "0", "1", "9223372036854775807"}},
    {DType::kFloat16, {"0.5", "-1.25", "65504", "6e-8"}},
    {DType::kBFloat16, {"0.5", "-1.25", "3.0e38", "1e-40"}},
    {DType::kFloat32, {"0.5", "-1.25", "3.4028234e38", "1e-45"}},
    {DType::kFloat64, {"0.5", "-1.25", "1.7976931348623157e308", "5e-324"}},
};

std::string x_input(const DTypeValues& v, bool nested) {
  const auto data =
      nested ? fmt::format("[[{},{}],[{},{}]]", v.values[0], v.values[1], v.values[2], v.values[3])
             : fmt::format("[{},{},{},{}]", v.values[0], v.values[1], v.values[2], v.values[3]);
  return fmt::format(R"({{"name":"x","datatype":"{}","shape":[2,2],"data":{}}})",
                     kserve_name(v.dtype), data);
}

constexpr std::string_view kMask =
    R"({"name":"mask","datatype":"BOOL","shape":[2],"data":[true,false]})";
constexpr std::string_view kScalar = R"({"name":"t","datatype":"INT32","shape":[],"data":7})";

supervisor::InferRequest decoded(DType dtype, std::string_view body,
                                 std::optional<std::size_t> header_length) {
  const auto model = supervisor::fuzz::model_for(dtype);
  supervisor::InferRequest request;
  try {
    supervisor::parse_infer_request(model, body, header_length, request);
  } catch (const supervisor::HttpError& error) {
    die(fmt::format("a {} seed does not decode: {}", kserve_name(dtype), error.what()));
  }
  return request;
}

void kserve_seeds(SeedWriter& out) {
  for (const auto& v : kValues) {
    const auto name = std::string(kserve_name(v.dtype));
    const auto json = fmt::format(
        R"({{"id":"seed-{}","inputs":[{},{},{}],"outputs":[{{"name":"y"}},{{"name":"count","parameters":{{"binary_data":true}}}}]}})",
        name, x_input(v, false), kMask, kScalar);
    const auto request = decoded(v.dtype, json, {});
    out.write("kserve_request", "json-" + name, name + "\n" + json);

    const auto nested =
        fmt::format(R"({{"inputs":[{},{},{}],"parameters":{{"binary_data_output":true}}}})",
                    kScalar, x_input(v, true), kMask);
    decoded(v.dtype, nested, {});
    out.write("kserve_request", "nested-" + name, name + "\n" + nested);

    // The binary extension: x and mask as the bytes the JSON request converted to, t in JSON.
    const auto& x = request.inputs[0].converted;
    const auto& mask = request.inputs[1].converted;
    const auto header = fmt::format(
        R"({{"inputs":[{{"name":"x","datatype":"{}","shape":[2,2],"parameters":{{"binary_data_size":{}}}}},{{"name":"mask","datatype":"BOOL","shape":[2],"parameters":{{"binary_data_size":{}}}}},{}],"outputs":[{{"name":"count"}}]}})",
        name, x.size(), mask.size(), kScalar);
    std::string body = header;
    body.append(reinterpret_cast<const char*>(x.data()), x.size());
    body.append(reinterpret_cast<const char*>(mask.data()), mask.size());
    decoded(v.dtype, body, header.size());
    out.write("kserve_request", "binary-" + name,
              fmt::format("{} {}\n{}", name, header.size(), body));
  }
  // A batch of zero rows, accepted: the free dimension may be 0.
  const auto empty = fmt::format(
      R"({{"inputs":[{{"name":"x","datatype":"FP32","shape":[0,2],"data":[]}},{},{}]}})", kMask,
      kScalar);
  decoded(DType::kFloat32, empty, {});
  out.write("kserve_request", "empty-batch-FP32", "FP32\n" + empty);
}

// --- frame ------------------------------------------------------------------------------------

struct Tensor {
  std::string_view name;
  DType dtype;
  std::vector<std::int64_t> dims;
};

Bytes frame(shm::FrameKind kind, std::uint64_t job_id, std::string_view model,
            const std::vector<Tensor>& tensors, std::vector<std::string_view> output_names,
            const shm::StageTimes& stages = {}) {
  std::vector<shm::TensorLayout> layouts;
  for (const auto& tensor : tensors)
    layouts.push_back({tensor.name, tensor.dtype, tensor.dims});
  const auto plan = shm::plan_frame(model, layouts, output_names);
  if (!plan) die(plan.error().message);
  Bytes record(plan->total_bytes);
  const auto payloads = shm::write_frame(record, *plan, kind, job_id, model, layouts, output_names);
  for (const auto& payload : payloads) {
    // Bytes of 0 and 1: valid in every dtype, BOOL included.
    for (std::size_t i = 0; i < payload.size(); ++i)
      payload[i] = static_cast<std::byte>(i % 2);
  }
  if (kind == shm::FrameKind::kResponse) shm::write_stage_times(record, stages);
  if (!shm::decode_frame(record, job_id)) die("a frame seed does not decode");
  return record;
}

Bytes error_payload(shm::JobErrorKind kind, std::string_view message,
                    const shm::StageTimes& stages) {
  Bytes payload(shm::error_payload_bytes(message));
  shm::write_error_payload(payload, kind, message, stages);
  if (!shm::decode_error_payload(payload)) die("an error seed does not decode");
  return payload;
}

void frame_seeds(SeedWriter& out) {
  using shm::FrameKind;
  out.write("frame", "request-two-tensors",
            frame(FrameKind::kRequest, 7, "mlp",
                  {{"x", DType::kFloat32, {2, 3}}, {"mask", DType::kBool, {2}}}, {"y"}));
  out.write("frame", "request-no-tensors", frame(FrameKind::kRequest, 1, "m", {}, {}));
  out.write("frame", "response-scalar-and-empty",
            frame(FrameKind::kResponse, 42, "resnet50",
                  {{"logits", DType::kFloat16, {1, 4}},
                   {"count", DType::kInt64, {}},
                   {"none", DType::kUInt8, {0, 5}}},
                  {}, {1200, 350000, 800}));
  out.write("frame", "error-model",
            error_payload(shm::JobErrorKind::kModel, "RuntimeError: shapes cannot be multiplied",
                          {100, 2000, 0}));
  out.write("frame", "error-startup",
            error_payload(shm::JobErrorKind::kStartup, "cannot load model", {}));
}

// --- ring -------------------------------------------------------------------------------------

// A ring in process memory written by the real RingWriter, as the ring fuzzer's input.
class RingImage {
 public:
  explicit RingImage(std::uint64_t capacity) : data_(capacity) {
    shm::initialize_ring(control_);
    writer_ = shm::RingWriter(view(), {});
    reader_ = shm::RingReader(view(), {});
  }

  void send(shm::RecordType type, std::uint64_t job_id, std::span<const std::byte> payload) {
    const auto reservation = writer_.try_reserve(type, job_id, payload.size());
    if (!reservation || !*reservation) die("a ring seed's record does not fit");
    if (!payload.empty())
      std::memcpy((*reservation)->payload.data(), payload.data(), payload.size());
    writer_.commit(**reservation);
  }
  void send(shm::RecordType type, std::uint64_t job_id, std::string_view text) {
    send(type, job_id, std::as_bytes(std::span(text.data(), text.size())));
  }

  // Consumes `count` records, moving the consumer (and the lap) on.
  void receive(int count) {
    for (int i = 0; i < count; ++i) {
      const auto record = reader_.try_peek();
      if (!record || !*record) die("a ring seed's record cannot be read back");
      reader_.release(**record);
    }
  }

  Bytes input(bool producer) const {
    Bytes out{static_cast<std::byte>(shm::fuzz::first_byte(data_.size(), producer))};
    append(out, &control_.read_position, 8);
    append(out, &control_.write_position, 8);
    append(out, data_.data(), data_.size());
    return out;
  }
  std::uint64_t write_position() const noexcept { return control_.write_position; }
  std::uint64_t capacity() const noexcept { return data_.size(); }

 private:
  shm::RingView view() noexcept {
    return {&control_, data_.data(), data_.size(), shm::fuzz::kCommitKey};
  }

  shm::RingControl control_{};
  std::vector<std::byte> data_;
  shm::RingWriter writer_;
  shm::RingReader reader_;
};

void ring_seeds(SeedWriter& out) {
  using shm::RecordType;
  const auto response =
      frame(shm::FrameKind::kResponse, 3, "m", {{"y", DType::kFloat32, {2}}}, {}, {1, 2, 3});
  const auto error = error_payload(shm::JobErrorKind::kBadInput, "input 'x' has shape [3]", {});
  {
    RingImage ring(2048);
    ring.send(RecordType::kReady, 0, "READY cpu");
    ring.send(RecordType::kResponse, 3, response);
    ring.send(RecordType::kError, 4, error);
    ring.send(RecordType::kShutdownAck, 0, "");
    out.write("ring", "consumer-four-records", ring.input(false));
  }
  {
    // Three laps on, with a response that wrapped (padding at the tail, the record at 0), then
    // a peer's write that commits one more record behind it (commit word 1: this lap's tag).
    RingImage ring(1024);
    for (int lap = 0; lap < 3; ++lap) {
      ring.send(RecordType::kReady, 0, std::string(400, 'a'));
      ring.send(RecordType::kReady, 0, std::string(400, 'b'));
      ring.receive(2);
    }
    ring.send(RecordType::kReady, 0, std::string(600, 'c'));
    ring.receive(1);
    ring.send(RecordType::kResponse, 3, response);
    auto input = ring.input(false);
    shm::RecordHeader header{};
    header.commit = shm::fuzz::kStampThisLap;
    header.type = static_cast<std::uint32_t>(RecordType::kShutdownAck);
    header.record_bytes = shm::kRecordAlignment;
    const auto offset = static_cast<std::uint16_t>(ring.write_position() % ring.capacity());
    append(input, &offset, 2);
    input.push_back(std::byte{sizeof(header)});
    append(input, &header, sizeof(header));
    out.write("ring", "consumer-wrapped-then-written", input);
  }
  {
    // A producer whose consumer releases honestly, then publishes a position it never reached.
    RingImage ring(1024);
    auto input = ring.input(true);
    const std::uint64_t reads[] = {0, 0, 384, 384, 1u << 20};
    const std::uint16_t sizes[] = {300, 200, 500, 100, 64};
    for (int i = 0; i < 5; ++i) {
      append(input, &reads[i], 8);
      append(input, &sizes[i], 2);
    }
    out.write("ring", "producer-then-corrupt-consumer", input);
  }
}

// --- npy --------------------------------------------------------------------------------------

// The same file in format version 2.0 or 3.0: a 4-byte header length.
Bytes with_version(const Bytes& v1, std::uint8_t major) {
  Bytes out(v1.begin(), v1.begin() + 6);
  out.push_back(std::byte{major});
  out.push_back(std::byte{0});
  out.insert(out.end(), v1.begin() + 8, v1.begin() + 10);
  out.push_back(std::byte{0});
  out.push_back(std::byte{0});
  out.insert(out.end(), v1.begin() + 10, v1.end());
  parse_npy(out, "seed");  // throws if the rewrite is wrong
  return out;
}

void npy_seeds(SeedWriter& out) {
  for (const DType dtype : kAllDTypes) {
    if (dtype == DType::kBFloat16) continue;  // no .npy descriptor
    const std::vector<std::int64_t> shape{2, 3};
    const Bytes data(6 * dtype_size(dtype), std::byte{1});
    out.write("npy", fmt::format("v1-{}", dtype_name(dtype)), encode_npy(dtype, shape, data));
  }
  const std::vector<std::int64_t> column{3};
  const Bytes floats(12, std::byte{0x3f});
  const auto v1 = encode_npy(DType::kFloat32, column, floats);
  out.write("npy", "v2-float32", with_version(v1, 2));
  out.write("npy", "v3-float32", with_version(v1, 3));
  out.write("npy", "scalar-float64", encode_npy(DType::kFloat64, {}, Bytes(8, std::byte{0x40})));
  const std::vector<std::int64_t> no_rows{0, 3};
  out.write("npy", "empty-int64", encode_npy(DType::kInt64, no_rows, {}));
}

}  // namespace
}  // namespace infervisor

int main(int argc, char** argv) {
  if (argc != 2) infervisor::die("usage: fuzz_seeds DIR");
  infervisor::SeedWriter out(argv[1]);
  infervisor::kserve_seeds(out);
  infervisor::frame_seeds(out);
  infervisor::ring_seeds(out);
  infervisor::npy_seeds(out);
  return 0;
}
