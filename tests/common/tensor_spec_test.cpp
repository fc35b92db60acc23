#include "common/tensor_spec.hpp"

#include <gtest/gtest.h>

#include "common/error.hpp"

namespace infervisor {
namespace {

using Dims = std::vector<std::int64_t>;

TEST(tensor_spec_test, ParsesNameDTypeAndDims) {
  const auto sut = parse_tensor_spec("x:float32:-1,256");
  EXPECT_EQ(sut.name, "x");
  EXPECT_EQ(sut.dtype, DType::kFloat32);
  EXPECT_EQ(sut.dims, (Dims{kFreeDim, 256}));
}

TEST(tensor_spec_test, ANameMayHoldColonsAndCommas) {
  const auto sut = parse_tensor_spec("input:0,a:int64:2,3");
  EXPECT_EQ(sut.name, "input:0,a");
  EXPECT_EQ(sut.dtype, DType::kInt64);
  EXPECT_EQ(sut.dims, (Dims{2, 3}));
  EXPECT_EQ(parse_tensor_spec(format_tensor_spec(sut)), sut);
}

TEST(tensor_spec_test, AnEmptyDimListIsAScalar) {
  const auto sut = parse_tensor_spec("loss:float64:");
  EXPECT_TRUE(sut.dims.empty());
  EXPECT_TRUE(sut.accepts(Dims{}));
  EXPECT_FALSE(sut.accepts(Dims{1}));
}

TEST(tensor_spec_test, AcceptsKServeDTypeSpelling) {
  EXPECT_EQ(parse_tensor_spec("m:BOOL:3").dtype, DType::kBool);
  EXPECT_EQ(parse_tensor_spec("m:BF16:3").dtype, DType::kBFloat16);
}

TEST(tensor_spec_test, FormatAndParseRoundTrip) {
  for (const DType dtype : kAllDTypes) {
    const TensorSpec spec{"input_0", dtype, Dims{kFreeDim, 3, 0, 224}};
    EXPECT_EQ(parse_tensor_spec(format_tensor_spec(spec)), spec);
  }
  const TensorSpec scalar{"s", DType::kInt64, {}};
  EXPECT_EQ(format_tensor_spec(scalar), "s:int64:");
  EXPECT_EQ(parse_tensor_spec(format_tensor_spec(scalar)), scalar);
}

TEST(tensor_spec_test, MalformedSpecsThrowNamingThePart) {
  const char* bad[] = {
      "",
      "x",
      "x:float32",
      ":float32:1",
      "x:float:1",
      "x:float32:1,,2",
      "x:float32:1,",
      "x:float32:,",
      "x:float32:a",
      "x:float32:-2",
      "x:float32: 1",
      "x:float32:99999999999999999999",
  };
  for (const char* text : bad) {
    EXPECT_THROW(parse_tensor_spec(text), InfervisorError) << text;
  }
  try {
    parse_tensor_spec("x:float32:3,oops");
    FAIL() << "expected a throw";
  } catch (const InfervisorError& error) {
    EXPECT_NE(std::string(error.what()).find("'oops'"), std::string::npos) << error.what();
    EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
  }
}

TEST(tensor_spec_test, RefusesMoreThanMaxDims) {
  EXPECT_NO_THROW(parse_tensor_spec("x:int8:1,1,1,1,1,1,1,1"));
  EXPECT_THROW(parse_tensor_spec("x:int8:1,1,1,1,1,1,1,1,1"), InfervisorError);
}

TEST(tensor_spec_test, AcceptsChecksRankAndFixedDims) {
  const TensorSpec sut{"x", DType::kFloat32, Dims{kFreeDim, 3}};
  EXPECT_TRUE(sut.accepts(Dims{1, 3}));
  EXPECT_TRUE(sut.accepts(Dims{0, 3}));
  EXPECT_TRUE(sut.accepts(Dims{1000, 3}));
  EXPECT_FALSE(sut.accepts(Dims{1, 4}));
  EXPECT_FALSE(sut.accepts(Dims{3}));
  EXPECT_FALSE(sut.accepts(Dims{1, 3, 1}));
  EXPECT_FALSE(sut.accepts(Dims{-1, 3})) << "a request shape is never free";
}

TEST(tensor_spec_test, ConcreteDimsFillsFreeDims) {
  const TensorSpec sut{"x", DType::kFloat32, Dims{kFreeDim, 3, kFreeDim}};
  EXPECT_EQ(sut.concrete_dims(1), (Dims{1, 3, 1}));
  EXPECT_EQ(sut.concrete_dims(8), (Dims{8, 3, 8}));
}

}  // namespace
}  // namespace infervisor
