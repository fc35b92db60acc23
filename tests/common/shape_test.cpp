#include "common/shape.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <vector>

namespace infervisor {
namespace {

using Dims = std::vector<std::int64_t>;
constexpr auto kInt64Max = std::numeric_limits<std::int64_t>::max();

TEST(shape_test, ElementCountOfAScalarIsOne) {
  EXPECT_EQ(checked_element_count(Dims{}), 1u);
}

TEST(shape_test, ElementCountMultipliesDims) {
  EXPECT_EQ(checked_element_count(Dims{2, 3, 4}), 24u);
  EXPECT_EQ(checked_element_count(Dims{7}), 7u);
}

TEST(shape_test, AZeroDimMakesAnEmptyTensor) {
  EXPECT_EQ(checked_element_count(Dims{4, 0, 5}), 0u);
  // Zero wins even when the other dims alone would overflow.
  EXPECT_EQ(checked_element_count(Dims{0, kInt64Max, kInt64Max}), 0u);
}

TEST(shape_test, NegativeDimsAreRefused) {
  EXPECT_FALSE(checked_element_count(Dims{2, -1}).has_value());
  EXPECT_FALSE(checked_byte_size(DType::kFloat32, Dims{-3}).has_value());
  EXPECT_FALSE(checked_element_count(Dims{0, -1}).has_value());
}

TEST(shape_test, ElementCountOverflowIsRefused) {
  EXPECT_FALSE(checked_element_count(Dims{kInt64Max, 3}).has_value());
  EXPECT_FALSE(checked_element_count(Dims{1LL << 32, 1LL << 32}).has_value());
  // 2^63 still fits an unsigned 64-bit count.
  EXPECT_EQ(checked_element_count(Dims{1LL << 31, 1LL << 32}), std::uint64_t{1} << 63);
}

TEST(shape_test, ByteSizeMultipliesByTheElementSize) {
  EXPECT_EQ(checked_byte_size(DType::kFloat32, Dims{2, 3}), 24u);
  EXPECT_EQ(checked_byte_size(DType::kFloat64, Dims{}), 8u);
  EXPECT_EQ(checked_byte_size(DType::kBool, Dims{5}), 5u);
  EXPECT_EQ(checked_byte_size(DType::kBFloat16, Dims{0}), 0u);
}

TEST(shape_test, ByteSizeOverflowIsRefusedEvenWhenTheCountFits) {
  // 2^61 elements fit; 2^61 * 8 bytes does not.
  EXPECT_TRUE(checked_element_count(Dims{1LL << 61}).has_value());
  EXPECT_FALSE(checked_byte_size(DType::kInt64, Dims{1LL << 61}).has_value());
  EXPECT_EQ(checked_byte_size(DType::kInt64, Dims{1LL << 60}), std::uint64_t{1} << 63);
}

TEST(shape_test, ShapeToStringListsDims) {
  EXPECT_EQ(shape_to_string(Dims{}), "[]");
  EXPECT_EQ(shape_to_string(Dims{2, 256}), "[2, 256]");
  EXPECT_EQ(shape_to_string(Dims{-1}), "[-1]");
}

TEST(shape_test, AlignUpRoundsToTheNextMultiple) {
  EXPECT_EQ(checked_align_up(0, 64), 0u);
  EXPECT_EQ(checked_align_up(1, 64), 64u);
  EXPECT_EQ(checked_align_up(64, 64), 64u);
  EXPECT_EQ(checked_align_up(65, 8), 72u);
  EXPECT_EQ(checked_align_up(5, 1), 5u);
}

TEST(shape_test, AlignUpOverflowIsRefused) {
  constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
  EXPECT_FALSE(checked_align_up(kMax, 64).has_value());
  EXPECT_FALSE(checked_align_up(kMax - 62, 64).has_value());
  EXPECT_EQ(checked_align_up(kMax - 63, 64), kMax - 63);
}

}  // namespace
}  // namespace infervisor
