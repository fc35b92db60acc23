#include "client/kserve_request.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>

#include "common/error.hpp"
#include "tests/client/bytes.hpp"

namespace infervisor::client {
namespace {

using testing::bytes_of;

InferRequest two_inputs(bool binary) {
  InferRequest request;
  request.model = "m";
  request.id = "req-1";
  request.binary = binary;
  request.inputs.push_back(Tensor{"x", DType::kFloat32, {2, 2}, bytes_of<float>({1.5f, -2, 0, 4})});
  request.inputs.push_back(Tensor{"flag", DType::kBool, {2}, bytes_of<std::uint8_t>({1, 0})});
  request.outputs = {"y"};
  return request;
}

TEST(client_kserve_request_test, BinaryRequestHasSizesAndBinaryOutputs) {
  const auto request = two_inputs(true);
  const auto sut = encode_infer_request(request);
  EXPECT_TRUE(sut.binary);
  EXPECT_EQ(sut.json,
            R"({"id":"req-1","inputs":[)"
            R"({"name":"x","shape":[2,2],"datatype":"FP32","parameters":{"binary_data_size":16}},)"
            R"({"name":"flag","shape":[2],"datatype":"BOOL","parameters":{"binary_data_size":2}}],)"
            R"("outputs":[{"name":"y","parameters":{"binary_data":true}}]})");
  ASSERT_EQ(sut.binary_parts.size(), 2u);
  // The parts are the inputs' own bytes, in input order, not copies.
  EXPECT_EQ(sut.binary_parts[0].data(), request.inputs[0].data.data());
  EXPECT_EQ(sut.binary_parts[0].size(), 16u);
  EXPECT_EQ(sut.binary_parts[1].data(), request.inputs[1].data.data());
  EXPECT_EQ(sut.binary_parts[1].size(), 2u);
}

TEST(client_kserve_request_test, BinaryRequestForAllOutputsUsesTheRequestParameter) {
  auto request = two_inputs(true);
  request.outputs.clear();
  request.id.clear();
  const auto sut = encode_infer_request(request);
  EXPECT_TRUE(sut.json.starts_with(R"({"parameters":{"binary_data_output":true},"inputs":)"))
      << sut.json;
  EXPECT_EQ(sut.json.find("\"outputs\""), std::string::npos);
  EXPECT_EQ(sut.json.find("\"id\""), std::string::npos);
}

TEST(client_kserve_request_test, PriorityIsARequestParameterWhenSet) {
  auto request = two_inputs(true);
  request.outputs.clear();
  request.priority = 2;
  auto sut = encode_infer_request(request);
  EXPECT_NE(sut.json.find(R"("parameters":{"binary_data_output":true,"priority":2})"),
            std::string::npos)
      << sut.json;
  request = two_inputs(false);
  EXPECT_EQ(encode_infer_request(request).json.find("priority"), std::string::npos);
  request.priority = 1;
  sut = encode_infer_request(request);
  EXPECT_NE(sut.json.find(R"("parameters":{"priority":1})"), std::string::npos) << sut.json;
}

TEST(client_kserve_request_test, JsonRequestCarriesFlatData) {
  const auto sut = encode_infer_request(two_inputs(false));
  EXPECT_FALSE(sut.binary);
  EXPECT_TRUE(sut.binary_parts.empty());
  EXPECT_EQ(sut.json, R"({"id":"req-1","inputs":[)"
                      R"({"name":"x","shape":[2,2],"datatype":"FP32","data":[1.5E0,-2E0,0E0,4E0]},)"
                      R"({"name":"flag","shape":[2],"datatype":"BOOL","data":[true,false]}],)"
                      R"("outputs":[{"name":"y"}]})");
}

TEST(client_kserve_request_test, ZeroSizeAndScalarInputs) {
  InferRequest request;
  request.model = "m";
  request.inputs.push_back(Tensor{"empty", DType::kFloat64, {0, 3}, {}});
  request.inputs.push_back(Tensor{"scalar", DType::kInt64, {}, bytes_of<std::int64_t>({-7})});
  const auto binary = encode_infer_request(request);
  EXPECT_NE(
      binary.json.find(
          R"("name":"empty","shape":[0,3],"datatype":"FP64","parameters":{"binary_data_size":0})"),
      std::string::npos)
      << binary.json;
  EXPECT_NE(binary.json.find(R"("shape":[],"datatype":"INT64")"), std::string::npos);
  ASSERT_EQ(binary.binary_parts.size(), 1u);  // nothing to send for the empty one
  request.binary = false;
  const auto json = encode_infer_request(request);
  EXPECT_NE(json.json.find(R"("data":[])"), std::string::npos);
  EXPECT_NE(json.json.find(R"("data":[-7])"), std::string::npos);
}

TEST(client_kserve_request_test, RefusesRequestsTheServerMustRefuse) {
  const auto expect_refused = [](InferRequest request, std::string_view why) {
    try {
      encode_infer_request(request);
      ADD_FAILURE() << "accepted: " << why;
    } catch (const InfervisorError& error) {
      EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument) << why;
      EXPECT_NE(std::string(error.what()).find(why), std::string::npos) << error.what();
    }
  };
  auto no_model = two_inputs(true);
  no_model.model.clear();
  expect_refused(no_model, "model name");
  auto twice = two_inputs(true);
  twice.inputs[1].name = "x";
  expect_refused(twice, "input 'x' is given twice");
  auto nameless = two_inputs(true);
  nameless.inputs[0].name.clear();
  expect_refused(nameless, "empty name");
  auto outputs_twice = two_inputs(true);
  outputs_twice.outputs = {"y", "y"};
  expect_refused(outputs_twice, "output 'y' is given twice");
  auto short_data = two_inputs(true);
  short_data.inputs[0].data.pop_back();
  expect_refused(short_data, "needs 16 bytes, the tensor has 15");
  auto negative = two_inputs(true);
  negative.inputs[0].shape = {-1, 4};
  expect_refused(negative, "negative or overflowing");
  auto deep = two_inputs(true);
  deep.inputs[1].shape = {1, 1, 1, 1, 1, 1, 1, 1, 2};
  expect_refused(deep, "at most 8");
  auto nan = two_inputs(false);
  const float value = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(nan.inputs[0].data.data(), &value, sizeof value);
  expect_refused(nan, "binary mode");
}

TEST(client_kserve_request_test, ModelTargetsArePercentEncoded) {
  EXPECT_EQ(model_target("resnet-50_v1.2~"), "/v2/models/resnet-50_v1.2~");
  EXPECT_EQ(model_target("m", "3"), "/v2/models/m/versions/3");
  EXPECT_EQ(model_target("a b/../c?\r\n"), "/v2/models/a%20b%2F..%2Fc%3F%0D%0A");
  EXPECT_EQ(model_target("\xc3\xa9"), "/v2/models/%C3%A9");
}

TEST(client_kserve_request_test, RegionTensorsAreSentAsReferences) {
  auto request = two_inputs(false);  // JSON mode: region inputs need no data either way
  request.inputs[0].data.clear();
  request.inputs[0].region = RegionRef{"inputs", 64, 16};
  request.outputs = {"y", "z"};
  request.output_regions["z"] = RegionRef{"outputs", 0, 4096};
  const auto sut = encode_infer_request(request);
  EXPECT_EQ(sut.json,
            R"({"id":"req-1","inputs":[)"
            R"({"name":"x","shape":[2,2],"datatype":"FP32","parameters":{"shared_memory_region":)"
            R"("inputs","shared_memory_byte_size":16,"shared_memory_offset":64}},)"
            R"({"name":"flag","shape":[2],"datatype":"BOOL","data":[true,false]}],)"
            R"("outputs":[{"name":"y"},{"name":"z","parameters":{"shared_memory_region":)"
            R"("outputs","shared_memory_byte_size":4096,"shared_memory_offset":0}}]})");

  request.binary = true;
  const auto binary = encode_infer_request(request);
  ASSERT_EQ(binary.binary_parts.size(), 1u);  // only the input in the body
  EXPECT_EQ(binary.binary_parts[0].data(), request.inputs[1].data.data());
  EXPECT_NE(binary.json.find(R"({"name":"y","parameters":{"binary_data":true}})"),
            std::string::npos)
      << binary.json;
}

TEST(client_kserve_request_test, RefusesBadRegionReferences) {
  const auto expect_refused = [](const InferRequest& request, std::string_view why) {
    try {
      encode_infer_request(request);
      ADD_FAILURE() << "accepted: " << why;
    } catch (const InfervisorError& error) {
      EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument) << why;
      EXPECT_NE(std::string(error.what()).find(why), std::string::npos) << error.what();
    }
  };
  auto in_region = two_inputs(true);
  in_region.inputs[0].data.clear();
  in_region.inputs[0].region = RegionRef{"r", 0, 16};
  EXPECT_NO_THROW(encode_infer_request(in_region));

  auto both = in_region;
  both.inputs[0].data = two_inputs(true).inputs[0].data;
  expect_refused(both, "has both data and shared-memory region 'r'");
  auto wrong_size = in_region;
  wrong_size.inputs[0].region->byte_size = 15;
  expect_refused(wrong_size, "needs 16 bytes, its region reference has 15");
  auto nameless = in_region;
  nameless.inputs[0].region->region.clear();
  expect_refused(nameless, "has no name");
  auto overflow = in_region;
  overflow.inputs[0].region->offset = UINT64_MAX - 3;
  expect_refused(overflow, "overflows");
  auto unrequested = two_inputs(true);
  unrequested.output_regions["z"] = RegionRef{"r", 0, 4};
  expect_refused(unrequested, "output 'z' has a shared-memory region but is not among");
  auto all_outputs = two_inputs(true);
  all_outputs.outputs.clear();
  all_outputs.output_regions["y"] = RegionRef{"r", 0, 4};
  expect_refused(all_outputs, "output 'y' has a shared-memory region but is not among");
  auto nameless_output = two_inputs(true);
  nameless_output.output_regions["y"] = RegionRef{"", 0, 4};
  expect_refused(nameless_output, "output 'y': its shared-memory region has no name");
}

TEST(client_kserve_request_test, SystemSharedMemoryTargetsAndBodies) {
  EXPECT_EQ(system_shared_memory_target(std::nullopt), "/v2/systemsharedmemory");
  EXPECT_EQ(system_shared_memory_target("ivcpp.12.0"), "/v2/systemsharedmemory/region/ivcpp.12.0");
  EXPECT_EQ(system_shared_memory_target("../x y"), "/v2/systemsharedmemory/region/..%2Fx%20y");
  EXPECT_EQ(encode_system_shared_memory_register("/ivcpp.12.0", 4096, 0),
            R"({"key":"/ivcpp.12.0","offset":0,"byte_size":4096})");
  EXPECT_EQ(encode_system_shared_memory_register("/a\"b", 1, 2),
            R"({"key":"/a\"b","offset":2,"byte_size":1})");
  EXPECT_EQ(repository_model_target("a b"), "/v2/repository/models/a%20b");
}

}  // namespace
}  // namespace infervisor::client
