#include "supervisor/kserve_response.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstring>
#include <limits>

#include "common/half.hpp"

namespace infervisor::supervisor {
namespace {
namespace json = boost::json;

// A response frame as a worker would write it.
class Frame {
 public:
  struct Tensor {
    std::string name;
    DType dtype;
    std::vector<std::int64_t> shape;
    std::vector<std::byte> bytes;
  };

  explicit Frame(const std::vector<Tensor>& tensors) {
    std::vector<shm::TensorLayout> layouts;
    for (const auto& tensor : tensors)
      layouts.push_back({tensor.name, tensor.dtype, tensor.shape});
    const auto plan = shm::plan_frame("m", layouts, {}).value();
    storage_.resize(plan.total_bytes + 64);
    // 64-byte aligned, as records in a ring are.
    auto* base =
        storage_.data() + (64 - reinterpret_cast<std::uintptr_t>(storage_.data()) % 64) % 64;
    record_ = std::span<std::byte>(base, plan.total_bytes);
    const auto payloads =
        shm::write_frame(record_, plan, shm::FrameKind::kResponse, 9, "m", layouts, {});
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      std::memcpy(payloads[i].data(), tensors[i].bytes.data(), tensors[i].bytes.size());
    }
  }

  shm::FrameView view() const { return shm::decode_frame(record_, 9).value(); }

 private:
  std::vector<std::byte> storage_;
  std::span<std::byte> record_;
};

template <class T>
std::vector<std::byte> bytes_of(std::initializer_list<T> values) {
  std::vector<std::byte> out(values.size() * sizeof(T));
  std::memcpy(out.data(), std::data(values), out.size());
  return out;
}

ModelConfig model() {
  ModelConfig model;
  model.name = "m";
  model.version = "3";
  model.inputs = {{"x", DType::kFloat32, {-1, 2}}};
  model.outputs = {
      {"y", DType::kFloat32, {-1, 2}}, {"flags", DType::kBool, {2}}, {"h", DType::kFloat16, {1}}};
  return model;
}

Frame standard_frame() {
  return Frame({{"y", DType::kFloat32, {1, 2}, bytes_of<float>({0.5f, -1.25f})},
                {"flags", DType::kBool, {2}, bytes_of<std::uint8_t>({1, 0})},
                {"h", DType::kFloat16, {1}, bytes_of<std::uint16_t>({float_to_half(2.5f)})}});
}

TEST(KServeResponse_test, JsonOutputsInModelOrder) {
  InferRequest request;
  request.id = "abc";
  const auto frame = standard_frame();
  const auto reply = encode_infer_response(model(), request, frame.view());
  EXPECT_EQ(reply.status, 200u);
  EXPECT_FALSE(reply.inference_header_length);
  const auto document = json::parse(reply.body).as_object();
  EXPECT_EQ(document.at("model_name"), "m");
  EXPECT_EQ(document.at("model_version"), "3");
  EXPECT_EQ(document.at("id"), "abc");
  const auto& outputs = document.at("outputs").as_array();
  ASSERT_EQ(outputs.size(), 3u);
  EXPECT_EQ(outputs[0].at("name"), "y");
  EXPECT_EQ(outputs[0].at("datatype"), "FP32");
  EXPECT_EQ(outputs[0].at("shape"), (json::array{1, 2}));
  EXPECT_EQ(outputs[0].at("data"), (json::array{0.5, -1.25}));
  EXPECT_EQ(outputs[1].at("data"), (json::array{true, false}));
  EXPECT_EQ(outputs[2].at("data"), (json::array{2.5}));
}

TEST(KServeResponse_test, BinaryOutputsFollowTheJsonHeader) {
  InferRequest request;
  request.outputs = {{"flags", false, std::nullopt}, {"y", true, std::nullopt}};
  const auto frame = standard_frame();
  const auto reply = encode_infer_response(model(), request, frame.view());
  ASSERT_TRUE(reply.inference_header_length);
  const auto header = json::parse(reply.body.substr(0, *reply.inference_header_length)).as_object();
  const auto& outputs = header.at("outputs").as_array();
  ASSERT_EQ(outputs.size(), 2u);  // only what was asked for, in the order asked
  EXPECT_EQ(outputs[0].at("name"), "flags");
  EXPECT_EQ(outputs[1].at("name"), "y");
  EXPECT_EQ(outputs[1].at("parameters").at("binary_data_size"), 8);
  EXPECT_FALSE(outputs[1].as_object().contains("data"));
  ASSERT_EQ(reply.body.size(), *reply.inference_header_length + 8);
  float y[2];
  std::memcpy(y, reply.body.data() + *reply.inference_header_length, 8);
  EXPECT_EQ(y[0], 0.5f);
  EXPECT_EQ(y[1], -1.25f);
}

TEST(KServeResponse_test, AWorkerThatBreaksTheDeclarationIsA500) {
  InferRequest request;
  const Frame wrong_dtype({{"y", DType::kFloat64, {1, 2}, bytes_of<double>({1, 2})},
                           {"flags", DType::kBool, {2}, bytes_of<std::uint8_t>({1, 0})},
                           {"h", DType::kFloat16, {1}, bytes_of<std::uint16_t>({0})}});
  try {
    encode_infer_response(model(), request, wrong_dtype.view());
    FAIL();
  } catch (const HttpError& error) {
    EXPECT_EQ(error.status(), 500u);
    EXPECT_NE(std::string(error.what()).find("'y'"), std::string::npos);
  }
  const Frame missing({{"y", DType::kFloat32, {1, 2}, bytes_of<float>({1, 2})}});
  EXPECT_THROW(encode_infer_response(model(), request, missing.view()), HttpError);
  const Frame wrong_shape({{"y", DType::kFloat32, {2}, bytes_of<float>({1, 2})},
                           {"flags", DType::kBool, {2}, bytes_of<std::uint8_t>({1, 0})},
                           {"h", DType::kFloat16, {1}, bytes_of<std::uint16_t>({0})}});
  EXPECT_THROW(encode_infer_response(model(), request, wrong_shape.view()), HttpError);
}

TEST(KServeResponse_test, NonFiniteFloatsBecomeNull) {
  ModelConfig single;
  single.name = "m";
  single.outputs = {{"y", DType::kFloat32, {2}}};
  const Frame frame({{"y",
                      DType::kFloat32,
                      {2},
                      bytes_of<float>({std::numeric_limits<float>::quiet_NaN(), 1.0f})}});
  const auto reply = encode_infer_response(single, InferRequest{}, frame.view());
  EXPECT_EQ(json::parse(reply.body).at("outputs").at(0).at("data"), (json::array{nullptr, 1}));
}

// The text itself, as clients parse it: each dtype as common/json_element.hpp writes it (a float
// in its shortest form, -0 with its sign, NaN and infinity as null).
TEST(KServeResponse_test, EveryDtypeIsWrittenAsJsonNumbersOrBools) {
  const std::vector<std::pair<Frame::Tensor, std::string>> cases = {
      {{"b", DType::kBool, {2}, bytes_of<std::uint8_t>({1, 0})}, "[true,false]"},
      {{"u8", DType::kUInt8, {2}, bytes_of<std::uint8_t>({0, 255})}, "[0,255]"},
      {{"i8", DType::kInt8, {2}, bytes_of<std::int8_t>({-128, 127})}, "[-128,127]"},
      {{"i16", DType::kInt16, {2}, bytes_of<std::int16_t>({-32768, 32767})}, "[-32768,32767]"},
      {{"i32", DType::kInt32, {2}, bytes_of<std::int32_t>({-2147483647 - 1, 2147483647})},
       "[-2147483648,2147483647]"},
      {{"i64",
        DType::kInt64,
        {2},
        bytes_of<std::int64_t>(
            {std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()})},
       "[-9223372036854775808,9223372036854775807]"},
      {{"f16", DType::kFloat16, {2}, bytes_of<std::uint16_t>({0x3c00, 0xfc00})}, "[1,null]"},
      {{"bf16", DType::kBFloat16, {2}, bytes_of<std::uint16_t>({0x3fc0, 0x8000})}, "[1.5,-0.0]"},
      {{"f32", DType::kFloat32, {2}, bytes_of<float>({0.1f, -0.0f})}, "[0.1,-0.0]"},
      {{"f64",
        DType::kFloat64,
        {2},
        bytes_of<double>({0.1, std::numeric_limits<double>::infinity()})},
       "[0.1,null]"},
  };
  ModelConfig all;
  all.name = "m";
  std::vector<Frame::Tensor> tensors;
  for (const auto& [tensor, data] : cases) {
    all.outputs.push_back({tensor.name, tensor.dtype, {2}});
    tensors.push_back(tensor);
  }
  const Frame frame(tensors);
  const auto reply = encode_infer_response(all, InferRequest{}, frame.view());
  for (const auto& [tensor, data] : cases) {
    const auto expected = fmt::format(R"({{"name":"{}","datatype":"{}","shape":[2],"data":{}}})",
                                      tensor.name, kserve_name(tensor.dtype), data);
    EXPECT_NE(reply.body.find(expected), std::string::npos) << expected << "\n" << reply.body;
  }
}

TEST(KServeResponse_test, MetadataDocuments) {
  const auto server = json::parse(server_metadata_json("1.2.3")).as_object();
  EXPECT_EQ(server.at("name"), "infervisor");
  EXPECT_EQ(server.at("version"), "1.2.3");
  EXPECT_TRUE(server.at("extensions").is_array());
  const auto metadata = json::parse(model_metadata_json(model())).as_object();
  EXPECT_EQ(metadata.at("name"), "m");
  EXPECT_EQ(metadata.at("versions"), (json::array{"3"}));
  EXPECT_EQ(metadata.at("inputs").at(0).at("shape"), (json::array{-1, 2}));
  EXPECT_EQ(metadata.at("outputs").at(2).at("datatype"), "FP16");
  const auto config = model();
  const ModelState states[] = {{&config, true, "READY", ""}};
  const auto index = json::parse(repository_index_json(states)).as_array();
  EXPECT_EQ(index.at(0).at("state"), "READY");
  EXPECT_EQ(json::parse(error_reply(404, "no \"such\" model").body).at("error"),
            "no \"such\" model");
}

// Boost.JSON's serializer escapes control characters but copies invalid UTF-8 as it is: a message
// that quotes client bytes must still make a reply every JSON parser takes.
TEST(KServeResponse_test, ErrorRepliesAreValidUtf8JsonWhateverTheMessageQuotes) {
  const std::string quoted = "no model named 'm\xFFlp\xC3' \x01\"\\ \xE2\x82\xAC";
  const auto reply = error_reply(404, quoted);
  EXPECT_EQ(reply.status, 404u);
  boost::system::error_code ec;
  const auto document = json::parse(reply.body, ec);  // refuses invalid UTF-8
  ASSERT_FALSE(ec) << ec.message() << ": " << reply.body;
  EXPECT_EQ(document.at("error"),
            "no model named 'm\xEF\xBF\xBDlp\xEF\xBF\xBD' \x01\"\\ \xE2\x82\xAC");
}

}  // namespace
}  // namespace infervisor::supervisor
