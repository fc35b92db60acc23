#include "client/output_size.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace infervisor::client {
namespace {

ModelMetadata metadata() {
  ModelMetadata model;
  model.inputs = {{"x", "FP32", {-1, 3}}, {"mask", "BOOL", {-1}}, {"scale", "FP32", {}}};
  model.outputs = {{"y", "FP32", {-1, 4}}};
  return model;
}

Tensor input(std::string name, std::vector<std::int64_t> shape) {
  return Tensor{std::move(name), DType::kFloat32, std::move(shape), {}};
}

TEST(client_output_size_test, TheBatchIsTheLeadingDimensionOfInputsDeclaredWithMinusOne) {
  const auto model = metadata();
  EXPECT_EQ(batch_size(model, std::vector{input("x", {5, 3}), input("mask", {5})}), 5);
  EXPECT_EQ(batch_size(model, std::vector{input("x", {5, 3}), input("scale", {})}), 5);
  // Inputs that disagree give no batch; so do inputs the metadata does not batch.
  EXPECT_EQ(batch_size(model, std::vector{input("x", {5, 3}), input("mask", {4})}), std::nullopt);
  EXPECT_EQ(batch_size(model, std::vector{input("scale", {})}), std::nullopt);
  EXPECT_EQ(batch_size(model, std::vector{input("other", {2})}), std::nullopt);
}

TEST(client_output_size_test, AnOutputsSizeIsKnownWhenItsShapeIsFixed) {
  EXPECT_EQ(predicted_output_bytes({"y", "FP32", {2, 4}}, std::nullopt), 32u);
  EXPECT_EQ(predicted_output_bytes({"y", "INT64", {}}, std::nullopt), 8u);
  EXPECT_EQ(predicted_output_bytes({"y", "FP16", {-1, 4}}, 3), 24u);
  EXPECT_EQ(predicted_output_bytes({"y", "UINT8", {0, 4}}, std::nullopt), 0u);
  EXPECT_EQ(predicted_output_bytes({"y", "FP32", {-1, 4}}, std::nullopt), std::nullopt);
  EXPECT_EQ(predicted_output_bytes({"y", "FP32", {2, -1}}, 2), std::nullopt);  // not the batch
  EXPECT_EQ(predicted_output_bytes({"y", "BYTES", {2}}, std::nullopt), std::nullopt);
  EXPECT_EQ(predicted_output_bytes({"y", "FP64", {INT64_MAX, 2}}, std::nullopt), std::nullopt);
}

}  // namespace
}  // namespace infervisor::client
