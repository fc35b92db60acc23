#include "supervisor/kserve_request.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <tuple>

#include "common/half.hpp"

namespace infervisor::supervisor {
namespace {

ModelConfig two_input_model() {
  ModelConfig model;
  model.name = "m";
  model.inputs = {{"x", DType::kFloat32, {-1, 2}}, {"mask", DType::kBool, {2}}};
  model.outputs = {{"y", DType::kFloat32, {-1, 2}}, {"z", DType::kInt64, {-1}}};
  return model;
}

template <class T>
std::vector<T> values_of(const InputTensor& tensor) {
  std::vector<T> out(tensor.data.size() / sizeof(T));
  std::memcpy(out.data(), tensor.data.data(), tensor.data.size());
  return out;
}

class KServeRequest_test : public ::testing::Test {
 protected:
  InferRequest parse(const std::string& body, std::optional<std::size_t> header_length = {}) {
    body_ = body;
    InferRequest request;
    parse_infer_request(model_, body_, header_length, request);
    return request;
  }
  // {status, message} of the HttpError parse() throws; {0, ""} if it parsed.
  std::pair<unsigned, std::string> error_of(const std::string& body,
                                            std::optional<std::size_t> header_length = {}) {
    try {
      parse(body, header_length);
    } catch (const HttpError& error) {
      return {error.status(), error.what()};
    }
    return {0, ""};
  }

  ModelConfig model_ = two_input_model();
  std::string body_;
};

TEST_F(KServeRequest_test, JsonTensorsFlatAndNestedInModelOrder) {
  const auto request = parse(R"({"id":"r1","inputs":[
      {"name":"mask","datatype":"BOOL","shape":[2],"data":[true,false]},
      {"name":"x","datatype":"FP32","shape":[2,2],"data":[[1,2.5],[-3,4e2]]}]})");
  EXPECT_EQ(request.id, "r1");
  ASSERT_EQ(request.inputs.size(), 2u);
  EXPECT_EQ(request.inputs[0].name, "x");  // reordered to the model's order
  EXPECT_EQ(request.inputs[0].shape, (std::vector<std::int64_t>{2, 2}));
  EXPECT_EQ(values_of<float>(request.inputs[0]), (std::vector<float>{1, 2.5, -3, 400}));
  EXPECT_EQ(values_of<std::uint8_t>(request.inputs[1]), (std::vector<std::uint8_t>{1, 0}));
  EXPECT_TRUE(request.outputs.empty());
  EXPECT_FALSE(request.binary_outputs_by_default);
}

TEST_F(KServeRequest_test, BinaryTensorDataExtension) {
  const std::string header = R"({"inputs":[
      {"name":"x","datatype":"FP32","shape":[1,2],"parameters":{"binary_data_size":8}},
      {"name":"mask","datatype":"BOOL","shape":[2],"parameters":{"binary_data_size":2}}],
      "outputs":[{"name":"z","parameters":{"binary_data":true}},{"name":"y"}]})";
  std::string body = header;
  const float x[2] = {1.5f, -2.0f};
  body.append(reinterpret_cast<const char*>(x), sizeof(x));
  body.append("\x01\x00", 2);
  const auto request = parse(body, header.size());
  EXPECT_EQ(values_of<float>(request.inputs[0]), (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(values_of<std::uint8_t>(request.inputs[1]), (std::vector<std::uint8_t>{1, 0}));
  // Binary inputs are views into the body: no copy.
  EXPECT_EQ(reinterpret_cast<const char*>(request.inputs[0].data.data()),
            body_.data() + header.size());
  ASSERT_EQ(request.outputs.size(), 2u);
  EXPECT_EQ(request.outputs[0].name, "z");
  EXPECT_TRUE(request.outputs[0].binary);
  EXPECT_FALSE(request.outputs[1].binary);
}

TEST_F(KServeRequest_test, RequestLevelBinaryOutputDefault) {
  const auto request = parse(R"({"parameters":{"binary_data_output":true},"inputs":[
      {"name":"x","datatype":"FP32","shape":[0,2],"data":[]},
      {"name":"mask","datatype":"BOOL","shape":[2],"data":[false,false]}],
      "outputs":[{"name":"y"}, {"name":"z","parameters":{"binary_data":false}}]})");
  EXPECT_TRUE(request.outputs[0].binary);
  EXPECT_FALSE(request.outputs[1].binary);
  EXPECT_TRUE(request.inputs[0].data.empty());
}

TEST_F(KServeRequest_test, ConvertsEveryDtypeFromJson) {
  const std::vector<std::pair<DType, std::string>> cases = {
      {DType::kUInt8, "[0,255]"},
      {DType::kInt8, "[-128,127]"},
      {DType::kInt16, "[-32768,32767]"},
      {DType::kInt32, "[-2147483648,2147483647]"},
      {DType::kInt64, "[-9223372036854775808,9223372036854775807]"},
      {DType::kFloat16, "[1.5,-2]"},
      {DType::kBFloat16, "[1.5,-2]"},
      {DType::kFloat64, "[1e300,-2]"},
  };
  for (const auto& [dtype, data] : cases) {
    model_.inputs = {{"a", dtype, {2}}};
    const auto request =
        parse(fmt::format(R"({{"inputs":[{{"name":"a","datatype":"{}","shape":[2],"data":{}}}]}})",
                          kserve_name(dtype), data));
    ASSERT_EQ(request.inputs[0].data.size(), 2 * dtype_size(dtype)) << kserve_name(dtype);
    if (dtype == DType::kFloat16) {
      const auto halves = values_of<std::uint16_t>(request.inputs[0]);
      EXPECT_EQ(half_to_float(halves[0]), 1.5f);
      EXPECT_EQ(half_to_float(halves[1]), -2.0f);
    }
    if (dtype == DType::kInt64) {
      EXPECT_EQ(values_of<std::int64_t>(request.inputs[0])[0],
                std::numeric_limits<std::int64_t>::min());
    }
  }
}

TEST_F(KServeRequest_test, RejectsBadRequestsWith400AndSaysWhy) {
  const std::string x_ok = R"({"name":"x","datatype":"FP32","shape":[1,2],"data":[1,2]})";
  const std::string mask_ok = R"({"name":"mask","datatype":"BOOL","shape":[2],"data":[true,true]})";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "not valid JSON"},
      {"[]", "JSON object"},
      {R"({"inputs":5})", "'inputs' array"},
      {R"({"inputs":[)" + x_ok + "]}", "missing"},
      {R"({"inputs":[)" + x_ok + "," + x_ok + "," + mask_ok + "]}", "twice"},
      {R"({"inputs":[{"name":"w","datatype":"FP32","shape":[1],"data":[1]},)" + mask_ok + "]}",
       "no input 'w'"},
      {R"({"inputs":[{"name":"x","datatype":"FP64","shape":[1,2],"data":[1,2]},)" + mask_ok + "]}",
       "expects FP32"},
      {R"({"inputs":[{"name":"x","datatype":"NOPE","shape":[1,2],"data":[1,2]},)" + mask_ok + "]}",
       "unknown datatype"},
      {R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":[1,2,3]},)" + mask_ok +
           "]}",
       "expects [-1, 2]"},
      {R"({"inputs":[{"name":"x","datatype":"FP32","shape":[2],"data":[1,2]},)" + mask_ok + "]}",
       "expects [-1, 2]"},
      {R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,-2],"data":[]},)" + mask_ok + "]}",
       "non-negative"},
      {R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"data":[1]},)" + mask_ok + "]}",
       "1 elements"},
      {R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"data":[1,2,3]},)" + mask_ok +
           "]}",
       "more than"},
      {R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"data":[1,"2"]},)" + mask_ok +
           "]}",
       "a number"},
      {R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,2]},)" + mask_ok + "]}", "neither"},
      {R"({"inputs":[)" + x_ok + R"(,{"name":"mask","datatype":"BOOL","shape":[2],"data":[1,2]}]})",
       "true, false, 0 or 1"},
      {R"({"inputs":[)" + x_ok + "," + mask_ok + R"(],"outputs":[{"name":"nope"}]})",
       "no output 'nope'"},
      {R"({"inputs":[)" + x_ok + "," + mask_ok + R"(],"outputs":[{"name":"y"},{"name":"y"}]})",
       "twice"},
      {R"({"id":5,"inputs":[)" + x_ok + "," + mask_ok + "]}", "'id'"},
      {R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"parameters":{"binary_data_size":8}},)" +
           mask_ok + "]}",
       "Inference-Header-Content-Length"},
  };
  for (const auto& [body, expected] : cases) {
    const auto [status, message] = error_of(body);
    EXPECT_EQ(status, 400u) << body;
    EXPECT_NE(message.find(expected), std::string::npos) << body << "\n -> " << message;
  }
  model_.inputs = {{"i", DType::kInt8, {1}}};
  EXPECT_NE(error_of(R"({"inputs":[{"name":"i","datatype":"INT8","shape":[1],"data":[128]}]})")
                .second.find("[-128, 127]"),
            std::string::npos);
}

TEST_F(KServeRequest_test, BinarySizesMustAddUp) {
  model_.inputs = {{"x", DType::kFloat32, {2}}};
  const std::string header =
      R"({"inputs":[{"name":"x","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}}]})";
  EXPECT_EQ(error_of(header + std::string(4, '\0'), header.size()).first, 400u);   // too short
  EXPECT_EQ(error_of(header + std::string(12, '\0'), header.size()).first, 400u);  // left over
  const std::string wrong =
      R"({"inputs":[{"name":"x","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":6}}]})";
  EXPECT_NE(error_of(wrong + std::string(6, '\0'), wrong.size()).second.find("needs 8 bytes"),
            std::string::npos);
  EXPECT_EQ(parse(header + std::string(8, '\0'), header.size()).inputs[0].data.size(), 8u);
  EXPECT_THROW(parse_header_length("12x", 100), HttpError);
  EXPECT_THROW(parse_header_length("101", 100), HttpError);
  EXPECT_EQ(parse_header_length("100", 100), 100u);
}

TEST_F(KServeRequest_test, HugeShapesAreRefusedNotAllocated) {
  model_.inputs = {{"x", DType::kFloat32, {-1, -1}}};
  const auto [status, message] = error_of(
      R"({"inputs":[{"name":"x","datatype":"FP32","shape":[4294967296,4294967296],"data":[1]}]})");
  EXPECT_EQ(status, 413u) << message;
}

TEST_F(KServeRequest_test, ShapesThatClaimMoreElementsThanTheJsonHoldsAreRefusedFirst) {
  model_.inputs = {{"x", DType::kFloat32, {-1, 256}}};
  model_.ring_bytes = std::uint64_t{64} << 30;  // the largest ring_size: a 16 GiB tensor passes it
  // 4 Gi elements would be 16 GiB to zero-fill; the JSON holds a few dozen bytes.
  const auto [status, message] =
      error_of(R"({"inputs":[{"name":"x","datatype":"FP32","shape":[16000000,256],"data":[]}]})");
  EXPECT_EQ(status, 400u) << message;
  EXPECT_NE(message.find("has only"), std::string::npos) << message;
}

TEST_F(KServeRequest_test, ATensorLargerThanTheRingIsRefusedWith413) {
  model_.inputs = {{"x", DType::kFloat64, {-1}}};
  model_.ring_bytes = 64 * 1024;
  std::string data = "1";
  for (int i = 1; i < 9000; ++i)
    data += ",1";
  const auto [status, message] = error_of(
      R"({"inputs":[{"name":"x","datatype":"FP64","shape":[9000],"data":[)" + data + "]}]}");
  EXPECT_EQ(status, 413u) << message;
  EXPECT_NE(message.find("ring_size"), std::string::npos) << message;
}

TEST_F(KServeRequest_test, NumbersOutsideTheDtypeAreRefused) {
  model_.inputs = {{"x", DType::kFloat32, {-1}}};
  auto [status, message] =
      error_of(R"({"inputs":[{"name":"x","datatype":"FP32","shape":[2],"data":[1,1e300]}]})");
  EXPECT_EQ(status, 400u) << message;
  EXPECT_NE(message.find("element 1"), std::string::npos) << message;
  model_.inputs = {{"x", DType::kFloat16, {-1}}};
  std::tie(status, message) =
      error_of(R"({"inputs":[{"name":"x","datatype":"FP16","shape":[1],"data":[70000]}]})");
  EXPECT_EQ(status, 400u) << message;
  const auto request =
      parse(R"({"inputs":[{"name":"x","datatype":"FP16","shape":[2],"data":[65504,-65504]}]})");
  EXPECT_EQ(values_of<std::uint16_t>(request.inputs[0]),
            (std::vector<std::uint16_t>{float_to_half(65504.0f), float_to_half(-65504.0f)}));
}

// JSON has no infinity, but Boost.JSON parses a literal beyond double's range as one: before,
// FP32 and FP64 took 1e400, -1e400 and 1.8e308 as infinities (while 1e39 was refused for FP32),
// and BF16 took 3.4e38, which rounds to infinity.
TEST_F(KServeRequest_test, NumbersBeyondTheDtypesFiniteRangeAreRefusedNotMadeInfinite) {
  const std::pair<DType, std::string> refused[] = {
      {DType::kFloat32, "1e400"},  {DType::kFloat32, "-1e400"},  {DType::kFloat32, "1.8e308"},
      {DType::kFloat32, "1e39"},   {DType::kFloat32, "-3.5e38"}, {DType::kFloat64, "1e400"},
      {DType::kFloat64, "-1e400"}, {DType::kFloat64, "1.8e308"}, {DType::kFloat16, "65520"},
      {DType::kFloat16, "-70000"}, {DType::kFloat16, "1e400"},   {DType::kBFloat16, "3.4e38"},
      {DType::kBFloat16, "-1e39"}, {DType::kBFloat16, "1e400"},
  };
  for (const auto& [dtype, number] : refused) {
    model_.inputs = {{"x", dtype, {-1}}};
    const auto [status, message] =
        error_of(fmt::format(R"({{"inputs":[{{"name":"x","datatype":"{}","shape":[2],)"
                             R"("data":[0,{}]}}]}})",
                             kserve_name(dtype), number));
    EXPECT_EQ(status, 400u) << kserve_name(dtype) << " " << number << ": " << message;
    EXPECT_NE(message.find("input 'x' element 1 is outside the finite range of"), std::string::npos)
        << message;
  }
  // The largest finite values themselves, and what rounds to them, are fine.
  auto parse_one = [&](DType dtype, const std::string& number) {
    model_.inputs = {{"x", dtype, {-1}}};
    return parse(fmt::format(R"({{"inputs":[{{"name":"x","datatype":"{}","shape":[1],)"
                             R"("data":[{}]}}]}})",
                             kserve_name(dtype), number));
  };
  // (The request lives to the end of each full expression, as the tensor's bytes must.)
  EXPECT_EQ(values_of<float>(parse_one(DType::kFloat32, "-3.4028234663852886e38").inputs[0]),
            std::vector<float>{-std::numeric_limits<float>::max()});
  EXPECT_EQ(values_of<double>(parse_one(DType::kFloat64, "1.7976931348623157e308").inputs[0]),
            std::vector<double>{std::numeric_limits<double>::max()});
  EXPECT_EQ(values_of<std::uint16_t>(parse_one(DType::kFloat16, "65519").inputs[0]),
            std::vector<std::uint16_t>{0x7bff});
  EXPECT_EQ(
      values_of<std::uint16_t>(parse_one(DType::kBFloat16, "3.3895313892515355e38").inputs[0]),
      std::vector<std::uint16_t>{0x7f7f});
  EXPECT_EQ(values_of<double>(parse_one(DType::kFloat64, "1e-400").inputs[0]),
            std::vector<double>{0.0});
}

TEST_F(KServeRequest_test, IntegersAndSizesThatOverflowAreRefused) {
  const std::pair<DType, std::string> refused[] = {
      {DType::kInt8, "128"},
      {DType::kInt8, "-129"},
      {DType::kUInt8, "-1"},
      {DType::kUInt8, "256"},
      {DType::kInt16, "32768"},
      {DType::kInt32, "2147483648"},
      {DType::kInt32, "-2147483649"},
      {DType::kInt64, "9223372036854775808"},   // a uint64 to Boost.JSON
      {DType::kInt64, "-9223372036854775809"},  // a double to Boost.JSON
      {DType::kInt64, "18446744073709551616"},  // beyond uint64: a double
      {DType::kInt64, "1e400"},
  };
  for (const auto& [dtype, number] : refused) {
    model_.inputs = {{"x", dtype, {-1}}};
    const auto [status, message] =
        error_of(fmt::format(R"({{"inputs":[{{"name":"x","datatype":"{}","shape":[1],)"
                             R"("data":[{}]}}]}})",
                             kserve_name(dtype), number));
    EXPECT_EQ(status, 400u) << kserve_name(dtype) << " " << number << ": " << message;
    EXPECT_NE(message.find("input 'x' element 0"), std::string::npos) << message;
  }
  model_.inputs = {{"x", DType::kInt64, {-1}}};
  EXPECT_EQ(
      values_of<std::int64_t>(parse(R"({"inputs":[{"name":"x","datatype":"INT64","shape":[2],)"
                                    R"("data":[-9223372036854775808,9223372036854775807]}]})")
                                  .inputs[0]),
      (std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min(),
                                 std::numeric_limits<std::int64_t>::max()}));
  // Shapes whose element or byte count overflows, and sizes beyond any body.
  auto [status, message] = error_of(
      R"({"inputs":[{"name":"x","datatype":"INT64","shape":[4611686018427387904],"data":[]}]})");
  EXPECT_EQ(status, 413u) << message;
  std::tie(status, message) = error_of(
      R"({"inputs":[{"name":"x","datatype":"INT64","shape":[9223372036854775808],"data":[]}]})");
  EXPECT_EQ(status, 400u) << message;
  const std::string header = R"({"inputs":[{"name":"x","datatype":"INT64","shape":[1],)"
                             R"("parameters":{"binary_data_size":18446744073709551615}}]})";
  std::tie(status, message) = error_of(header + std::string(8, '\0'), header.size());
  EXPECT_EQ(status, 400u) << message;
  EXPECT_THROW(parse_header_length("99999999999999999999999", 100), HttpError);
}

// The rules of common/json_element.hpp, which the client follows too: an integral 3.0 is 3, 0 and
// 1 are booleans, null is NaN; a fraction, or a double of 2^50 or more, is refused.
TEST_F(KServeRequest_test, JsonElementsFollowTheRulesTheClientFollows) {
  const auto parse_two = [&](DType dtype, const std::string& data) {
    model_.inputs = {{"a", dtype, {-1}}};
    return parse(fmt::format(R"({{"inputs":[{{"name":"a","datatype":"{}","shape":[2],)"
                             R"("data":{}}}]}})",
                             kserve_name(dtype), data));
  };
  EXPECT_EQ(values_of<std::int32_t>(parse_two(DType::kInt32, "[3.0,-1e3]").inputs[0]),
            (std::vector<std::int32_t>{3, -1000}));
  EXPECT_EQ(
      values_of<std::int64_t>(parse_two(DType::kInt64, "[1125899906842623.0,-0.0]").inputs[0]),
      (std::vector<std::int64_t>{(std::int64_t{1} << 50) - 1, 0}));
  EXPECT_EQ(values_of<std::uint8_t>(parse_two(DType::kBool, "[1,0]").inputs[0]),
            (std::vector<std::uint8_t>{1, 0}));
  const auto floats = values_of<float>(parse_two(DType::kFloat32, "[null,1]").inputs[0]);
  EXPECT_TRUE(std::isnan(floats[0]));
  EXPECT_EQ(floats[1], 1.0f);
  const auto halves = values_of<std::uint16_t>(parse_two(DType::kFloat16, "[null,1]").inputs[0]);
  EXPECT_TRUE(std::isnan(half_to_float(halves[0])));

  const std::tuple<DType, std::string, std::string> refused[] = {
      {DType::kInt32, "[2.5,1]",
       "input 'a' element 0 is 2.5, not an integer: INT32 data needs an integer in "
       "[-2147483648, 2147483647]"},
      {DType::kInt64, "[1,9007199254740993.0]",
       "input 'a' element 1 is 9007199254740992, a number with a fraction or exponent of 2^50 "
       "or more"},
      {DType::kUInt8, "[256.0,1]", "input 'a' element 0 is 256, out of range: UINT8 data needs"},
      {DType::kBool, "[true,2]",
       "input 'a' element 1 is 2, not a bool: BOOL data needs true, false, 0 or 1"},
      {DType::kInt8, "[null,1]",
       "input 'a' element 0 is null, not a number: INT8 data needs an integer in [-128, 127]"},
      {DType::kFloat64, "[1,\"1\"]",
       "input 'a' element 1 is \"1\", not a number: FP64 data needs a number (or null for NaN)"},
  };
  for (const auto& [dtype, data, expected] : refused) {
    model_.inputs = {{"a", dtype, {-1}}};
    const auto [status, message] = error_of(
        fmt::format(R"({{"inputs":[{{"name":"a","datatype":"{}","shape":[2],"data":{}}}]}})",
                    kserve_name(dtype), data));
    EXPECT_EQ(status, 400u) << data;
    EXPECT_NE(message.find(expected), std::string::npos) << data << "\n -> " << message;
  }
}

TEST_F(KServeRequest_test, BinaryBoolBytesMustBeZeroOrOne) {
  const std::string header = R"({"inputs":[
      {"name":"x","datatype":"FP32","shape":[1,2],"parameters":{"binary_data_size":8}},
      {"name":"mask","datatype":"BOOL","shape":[2],"parameters":{"binary_data_size":2}}]})";
  std::string body = header + std::string(8, '\0');
  body.append("\x01\x02", 2);
  const auto [status, message] = error_of(body, header.size());
  EXPECT_EQ(status, 400u) << message;
  EXPECT_NE(message.find("BOOL byte 1 is 2"), std::string::npos) << message;
}

TEST_F(KServeRequest_test, GarbageNeverCrashes) {
  const std::string valid =
      R"({"id":"a","inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"data":[[1,2]]},)"
      R"({"name":"mask","datatype":"BOOL","shape":[2],"data":[true,false]}],)"
      R"("outputs":[{"name":"y","parameters":{"binary_data":true}}]})";
  std::mt19937 random(42);
  for (int round = 0; round < 5000; ++round) {
    std::string body = valid;
    const int edits = 1 + static_cast<int>(random() % 4);
    for (int e = 0; e < edits; ++e) {
      const auto at = random() % body.size();
      switch (random() % 3) {
        case 0:
          body[at] = static_cast<char>(random());
          break;
        case 1:
          body.erase(at, 1 + random() % 8);
          break;
        case 2:
          body.insert(body.begin() + static_cast<std::ptrdiff_t>(at), "[]{},:\"0-e"[random() % 10]);
          break;
      }
      if (body.empty()) body.push_back('{');
    }
    std::optional<std::size_t> header_length;
    if (random() % 4 == 0) header_length = random() % (body.size() + 1);
    try {
      parse(body, header_length);
    } catch (const HttpError& error) {
      EXPECT_TRUE(error.status() == 400u || error.status() == 413u) << error.what();
    }
  }
}

TEST_F(KServeRequest_test, PriorityIsTritonsParameterWithinTheModelsLevels) {
  const std::string inputs =
      R"("inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"data":[1,2]},)"
      R"({"name":"mask","datatype":"BOOL","shape":[2],"data":[true,false]}])";
  EXPECT_EQ(parse("{" + inputs + "}").priority, 0);  // no levels: arrival order only
  EXPECT_EQ(parse(R"({"parameters":{"priority":0},)" + inputs + "}").priority, 0);
  auto refused = error_of(R"({"parameters":{"priority":1},)" + inputs + "}");
  EXPECT_EQ(refused.first, 400u);
  EXPECT_NE(refused.second.find("no priority_levels"), std::string::npos) << refused.second;

  model_.priority_levels = 3;
  model_.default_priority_level = 2;
  EXPECT_EQ(parse("{" + inputs + "}").priority, 2);
  EXPECT_EQ(parse(R"({"parameters":{"priority":1},)" + inputs + "}").priority, 1);
  EXPECT_EQ(parse(R"({"parameters":{"priority":3},)" + inputs + "}").priority, 3);
  refused = error_of(R"({"parameters":{"priority":4},)" + inputs + "}");
  EXPECT_EQ(refused.first, 400u);
  EXPECT_NE(refused.second.find("levels 1-3"), std::string::npos) << refused.second;
  EXPECT_EQ(error_of(R"({"parameters":{"priority":-1},)" + inputs + "}").first, 400u);
  EXPECT_EQ(error_of(R"({"parameters":{"priority":"high"},)" + inputs + "}").first, 400u);
  for (const char* bad : {"true", "1.5", "1.0", "18446744073709551615", "1e30"}) {
    EXPECT_EQ(
        error_of(R"({"parameters":{"priority":)" + std::string(bad) + "}," + inputs + "}").first,
        400u)
        << bad;
  }
}

}  // namespace
}  // namespace infervisor::supervisor
