#include "client/json_tensor.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <cstring>
#include <limits>

#include "common/error.hpp"
#include "common/half.hpp"
#include "tests/client/bytes.hpp"

namespace infervisor::client {
namespace {

using testing::bytes_of;

std::vector<std::byte> from_json(DType dtype, std::string_view text, std::uint64_t count) {
  return tensor_data_from_json(dtype, boost::json::parse(text), count, "output 'y'");
}

TEST(client_json_tensor_test, EncodesEachDTypeAsNumbersOrBools) {
  EXPECT_EQ(boost::json::serialize(
                tensor_data_to_json(DType::kBool, bytes_of<std::uint8_t>({1, 0}), "x")),
            "[true,false]");
  EXPECT_EQ(boost::json::serialize(
                tensor_data_to_json(DType::kInt8, bytes_of<std::int8_t>({-128, 127}), "x")),
            "[-128,127]");
  EXPECT_EQ(
      boost::json::serialize(tensor_data_to_json(
          DType::kInt64, bytes_of<std::int64_t>({std::numeric_limits<std::int64_t>::min()}), "x")),
      "[-9223372036854775808]");
  const auto halves =
      tensor_data_to_json(DType::kFloat16, bytes_of<std::uint16_t>({0x3c00, 0xc100}), "x");
  EXPECT_EQ(halves.at(0).as_double(), 1.0);
  EXPECT_EQ(halves.at(1).as_double(), -2.5);
  const auto brains = tensor_data_to_json(DType::kBFloat16, bytes_of<std::uint16_t>({0x3fc0}), "x");
  EXPECT_EQ(brains.at(0).as_double(), 1.5);
}

// A float goes out as the double with exactly its value, so parsing it back as float is exact.
TEST(client_json_tensor_test, FloatsSurviveTheTripExactly) {
  const std::vector<float> values{0.1f, 1e-30f, 3.4028235e38f, -7.25f, 1.17549435e-38f, 1e-45f};
  const auto json = boost::json::parse(
      boost::json::serialize(tensor_data_to_json(DType::kFloat32, bytes_of(values), "x")));
  EXPECT_EQ(tensor_data_from_json(DType::kFloat32, json, values.size(), "x"), bytes_of(values));
}

TEST(client_json_tensor_test, EveryHalfSurvivesTheTrip) {
  std::vector<std::uint16_t> halves;
  for (std::uint32_t bits = 0; bits < 0x10000; ++bits) {
    if (std::isfinite(half_to_float(static_cast<std::uint16_t>(bits)))) {
      halves.push_back(static_cast<std::uint16_t>(bits));
    }
  }
  const auto json = boost::json::parse(
      boost::json::serialize(tensor_data_to_json(DType::kFloat16, bytes_of(halves), "x")));
  EXPECT_EQ(tensor_data_from_json(DType::kFloat16, json, halves.size(), "x"), bytes_of(halves));
}

TEST(client_json_tensor_test, RefusesWhatJsonCannotCarry) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  try {
    tensor_data_to_json(DType::kFloat32, bytes_of<float>({1, nan}), "input 'x'");
    FAIL() << "expected a throw";
  } catch (const InfervisorError& error) {
    EXPECT_NE(std::string(error.what()).find("input 'x': element 1"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("binary mode"), std::string::npos);
  }
  EXPECT_THROW(
      tensor_data_to_json(DType::kFloat64,
                          bytes_of<double>({std::numeric_limits<double>::infinity()}), "x"),
      InfervisorError);
  EXPECT_THROW(tensor_data_to_json(DType::kBool, bytes_of<std::uint8_t>({2}), "x"),
               InfervisorError);
}

TEST(client_json_tensor_test, DecodesFlatAndNestedAlike) {
  const auto flat = from_json(DType::kInt32, "[1, 2, 3, 4, 5, 6]", 6);
  EXPECT_EQ(flat, bytes_of<std::int32_t>({1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(from_json(DType::kInt32, "[[1, 2, 3], [4, 5, 6]]", 6), flat);
  EXPECT_EQ(from_json(DType::kInt32, "[[[1], [2]], [[3], [4]], [[5], [6]]]", 6), flat);
  EXPECT_TRUE(from_json(DType::kInt32, "[[], []]", 0).empty());
}

TEST(client_json_tensor_test, DecodesBoolsIntegersAndFloats) {
  EXPECT_EQ(from_json(DType::kBool, "[true, false, 1, 0]", 4),
            bytes_of<std::uint8_t>({1, 0, 1, 0}));
  EXPECT_EQ(from_json(DType::kUInt8, "[0, 255]", 2), bytes_of<std::uint8_t>({0, 255}));
  EXPECT_EQ(from_json(DType::kInt16, "[-32768, 2.0]", 2), bytes_of<std::int16_t>({-32768, 2}));
  EXPECT_EQ(from_json(DType::kInt64, "[9223372036854775807, -9223372036854775808]", 2),
            bytes_of<std::int64_t>({std::numeric_limits<std::int64_t>::max(),
                                    std::numeric_limits<std::int64_t>::min()}));
  EXPECT_EQ(from_json(DType::kFloat32, "[1, 0.5, -2e3]", 3), bytes_of<float>({1, 0.5f, -2000}));
  EXPECT_EQ(from_json(DType::kFloat64, "[18446744073709551615]", 1),
            bytes_of<double>({18446744073709551615.0}));
  EXPECT_EQ(from_json(DType::kFloat16, "[1, -2.5, 65504]", 3),
            bytes_of<std::uint16_t>({0x3c00, 0xc100, 0x7bff}));
  EXPECT_EQ(from_json(DType::kBFloat16, "[1.5]", 1), bytes_of<std::uint16_t>({0x3fc0}));
}

TEST(client_json_tensor_test, RefusesValuesThatDoNotFit) {
  const std::pair<DType, const char*> bad[] = {
      {DType::kUInt8, "[256]"},
      {DType::kUInt8, "[-1]"},
      {DType::kInt8, "[128]"},
      {DType::kInt32, "[1.5]"},
      {DType::kInt32, "[2147483648]"},
      {DType::kInt64, "[9223372036854775808]"},
      {DType::kInt64, "[1e19]"},
      {DType::kBool, "[2]"},
      {DType::kBool, "[\"true\"]"},
      {DType::kFloat32, "[1e39]"},
      {DType::kFloat32, "[true]"},
      {DType::kInt32, "[null]"},
      {DType::kBool, "[null]"},
      {DType::kFloat32, "[{}]"},
      {DType::kFloat64, "[\"1\"]"},
      // Refused since the client and the daemon share common/json_element.hpp: FP16 and BF16
      // overflow became infinity, an integer-valued double of 2^50 or more was taken as parsed.
      {DType::kFloat16, "[70000]"},
      {DType::kBFloat16, "[3.4e38]"},
      {DType::kInt64, "[9007199254740993.0]"},
  };
  for (const auto& [dtype, text] : bad) {
    EXPECT_THROW(from_json(dtype, text, 1), InfervisorError) << kserve_name(dtype) << " " << text;
  }
}

TEST(client_json_tensor_test, ErrorsNameTheElementAndWhatTheDTypeNeeds) {
  try {
    from_json(DType::kUInt8, "[1, 256]", 2);
    FAIL() << "expected a throw";
  } catch (const InfervisorError& error) {
    EXPECT_EQ(error.code(), ErrorCode::kCorrupt);
    EXPECT_STREQ(error.what(),
                 "output 'y': 'data' element 1 is 256, out of range: UINT8 data needs an integer "
                 "in [0, 255]");
  }
}

// infervisord (like other servers) writes NaN as null, JSON having no NaN.
TEST(client_json_tensor_test, NullIsNaNForFloats) {
  float f32 = 0;
  std::memcpy(&f32, from_json(DType::kFloat32, "[null]", 1).data(), 4);
  EXPECT_TRUE(std::isnan(f32));
  double f64 = 0;
  std::memcpy(&f64, from_json(DType::kFloat64, "[null]", 1).data(), 8);
  EXPECT_TRUE(std::isnan(f64));
  std::uint16_t f16 = 0, bf16 = 0;
  std::memcpy(&f16, from_json(DType::kFloat16, "[null]", 1).data(), 2);
  EXPECT_TRUE(std::isnan(half_to_float(f16)));
  std::memcpy(&bf16, from_json(DType::kBFloat16, "[null]", 1).data(), 2);
  EXPECT_TRUE(std::isnan(bfloat16_to_float(bf16)));
}

TEST(client_json_tensor_test, RefusesWrongCountsAndShapes) {
  EXPECT_THROW(from_json(DType::kFloat32, "[1, 2]", 3), InfervisorError);
  EXPECT_THROW(from_json(DType::kFloat32, "[1, 2, 3, 4]", 3), InfervisorError);
  EXPECT_THROW(from_json(DType::kFloat32, "1", 1), InfervisorError);
  EXPECT_THROW(from_json(DType::kFloat32, "{\"a\": 1}", 1), InfervisorError);
  EXPECT_THROW(from_json(DType::kFloat32, "[[[[[[[[[1]]]]]]]]]", 1), InfervisorError);
  // A huge array against a tiny shape stops early rather than collecting it all.
  std::string huge = "[";
  for (int i = 0; i < 100000; ++i)
    huge += "0,";
  huge += "0]";
  EXPECT_THROW(from_json(DType::kUInt8, huge, 2), InfervisorError);
}

}  // namespace
}  // namespace infervisor::client
