#include "client/tensor_summary.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>

namespace infervisor::client {
namespace {

template <class T>
Tensor tensor(DType dtype, std::vector<std::int64_t> shape, std::vector<T> values) {
  Tensor out{"y", dtype, std::move(shape), std::vector<std::byte>(values.size() * sizeof(T))};
  if (!values.empty()) std::memcpy(out.data.data(), values.data(), out.data.size());
  return out;
}

TEST(client_tensor_summary_test, ShowsValuesAndStatistics) {
  EXPECT_EQ(summarize_tensor(tensor<float>(DType::kFloat32, {2, 2}, {0.5f, 1, 2, 4.5f})),
            "y FP32 [2, 2] [0.5, 1, 2, 4.5] min 0.5 max 4.5 mean 2");
}

TEST(client_tensor_summary_test, ElidesBeyondTheFirstValues) {
  EXPECT_EQ(summarize_tensor(tensor<std::int64_t>(DType::kInt64, {8}, {1, 2, 3, 4, 5, 6, 7, 8}), 3),
            "y INT64 [8] [1, 2, 3, ...] min 1 max 8 mean 4.5");
}

TEST(client_tensor_summary_test, SmallIntegersPrintAsNumbers) {
  EXPECT_EQ(summarize_tensor(tensor<std::int8_t>(DType::kInt8, {2}, {-5, 65})),
            "y INT8 [2] [-5, 65] min -5 max 65 mean 30");
  EXPECT_EQ(summarize_tensor(tensor<std::uint8_t>(DType::kUInt8, {1}, {200})),
            "y UINT8 [1] [200] min 200 max 200 mean 200");
}

TEST(client_tensor_summary_test, BoolsAndHalves) {
  EXPECT_EQ(summarize_tensor(tensor<std::uint8_t>(DType::kBool, {4}, {1, 0, 0, 0})),
            "y BOOL [4] [true, false, false, false] min 0 max 1 mean 0.25");
  EXPECT_EQ(summarize_tensor(tensor<std::uint16_t>(DType::kFloat16, {2}, {0x3c00, 0xc000})),
            "y FP16 [2] [1, -2] min -2 max 1 mean -0.5");
  EXPECT_EQ(summarize_tensor(tensor<std::uint16_t>(DType::kBFloat16, {}, {0x3fc0})),
            "y BF16 [] [1.5] min 1.5 max 1.5 mean 1.5");
}

TEST(client_tensor_summary_test, EmptyAndNaN) {
  EXPECT_EQ(summarize_tensor(tensor<float>(DType::kFloat32, {0, 3}, {})), "y FP32 [0, 3] (empty)");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(summarize_tensor(tensor<float>(DType::kFloat32, {3}, {nan, 1, 3})),
            "y FP32 [3] [nan, 1, 3] min 1 max 3 mean 2 (1 NaN)");
  EXPECT_EQ(summarize_tensor(tensor<double>(DType::kFloat64, {1}, {nan})),
            "y FP64 [1] [nan] (1 NaN)");
}

}  // namespace
}  // namespace infervisor::client
