#include "common/dtype.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace infervisor {
namespace {

TEST(dtype_test, EveryDTypeRoundTripsThroughItsRawValue) {
  for (const DType dtype : kAllDTypes) {
    EXPECT_EQ(dtype_from_raw(static_cast<std::uint8_t>(dtype)), dtype) << dtype_name(dtype);
  }
}

TEST(dtype_test, RawValuesOutsideTheEnumAreRefused) {
  std::set<int> known;
  for (const DType dtype : kAllDTypes)
    known.insert(static_cast<int>(dtype));
  for (int raw = 0; raw < 256; ++raw) {
    if (known.count(raw)) continue;
    EXPECT_FALSE(dtype_from_raw(static_cast<std::uint8_t>(raw)).has_value()) << raw;
  }
}

// The shared-memory frame layout stores these numbers; changing one breaks running peers.
TEST(dtype_test, RawValuesAreFrozen) {
  EXPECT_EQ(static_cast<int>(DType::kBool), 1);
  EXPECT_EQ(static_cast<int>(DType::kFloat16), 7);
  EXPECT_EQ(static_cast<int>(DType::kBFloat16), 8);
  EXPECT_EQ(static_cast<int>(DType::kFloat64), 10);
}

TEST(dtype_test, SizesMatchTheElementTypes) {
  EXPECT_EQ(dtype_size(DType::kBool), 1u);
  EXPECT_EQ(dtype_size(DType::kUInt8), 1u);
  EXPECT_EQ(dtype_size(DType::kInt8), 1u);
  EXPECT_EQ(dtype_size(DType::kInt16), 2u);
  EXPECT_EQ(dtype_size(DType::kFloat16), 2u);
  EXPECT_EQ(dtype_size(DType::kBFloat16), 2u);
  EXPECT_EQ(dtype_size(DType::kInt32), 4u);
  EXPECT_EQ(dtype_size(DType::kFloat32), 4u);
  EXPECT_EQ(dtype_size(DType::kInt64), 8u);
  EXPECT_EQ(dtype_size(DType::kFloat64), 8u);
}

TEST(dtype_test, KServeNamesFollowTheProtocol) {
  EXPECT_EQ(kserve_name(DType::kBool), "BOOL");
  EXPECT_EQ(kserve_name(DType::kUInt8), "UINT8");
  EXPECT_EQ(kserve_name(DType::kInt8), "INT8");
  EXPECT_EQ(kserve_name(DType::kInt16), "INT16");
  EXPECT_EQ(kserve_name(DType::kInt32), "INT32");
  EXPECT_EQ(kserve_name(DType::kInt64), "INT64");
  EXPECT_EQ(kserve_name(DType::kFloat16), "FP16");
  EXPECT_EQ(kserve_name(DType::kBFloat16), "BF16");
  EXPECT_EQ(kserve_name(DType::kFloat32), "FP32");
  EXPECT_EQ(kserve_name(DType::kFloat64), "FP64");
  for (const DType dtype : kAllDTypes) {
    EXPECT_EQ(dtype_from_kserve(kserve_name(dtype)), dtype);
  }
}

TEST(dtype_test, KServeNamesAreCaseSensitive) {
  // The protocol says all strings are case-sensitive.
  EXPECT_FALSE(dtype_from_kserve("fp32").has_value());
  EXPECT_FALSE(dtype_from_kserve("BYTES").has_value());
  EXPECT_FALSE(dtype_from_kserve("").has_value());
}

TEST(dtype_test, LowerCaseNamesRoundTripAndAcceptKServeSpelling) {
  std::set<std::string> seen;
  for (const DType dtype : kAllDTypes) {
    EXPECT_EQ(dtype_from_name(dtype_name(dtype)), dtype);
    EXPECT_EQ(dtype_from_name(kserve_name(dtype)), dtype);
    EXPECT_TRUE(seen.insert(std::string(dtype_name(dtype))).second) << "duplicate name";
  }
  EXPECT_EQ(dtype_name(DType::kBFloat16), "bfloat16");
  EXPECT_FALSE(dtype_from_name("float").has_value());
  EXPECT_FALSE(dtype_from_name("Float32").has_value());
}

TEST(dtype_test, AnInvalidEnumValueHasSafeNames) {
  const auto bogus = static_cast<DType>(99);
  EXPECT_EQ(kserve_name(bogus), "INVALID");
  EXPECT_EQ(dtype_name(bogus), "invalid");
  EXPECT_EQ(dtype_size(bogus), 0u);
}

}  // namespace
}  // namespace infervisor
