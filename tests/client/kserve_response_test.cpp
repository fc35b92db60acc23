#include "client/kserve_response.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>

#include "common/error.hpp"
#include "tests/client/bytes.hpp"

namespace infervisor::client {
namespace {

using testing::bytes_of;
using testing::raw_of;

using namespace std::string_literals;

// The message of the InfervisorError `f` throws (a test failure if it throws none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const InfervisorError& error) {
    EXPECT_EQ(error.code(), ErrorCode::kCorrupt) << error.what();
    return error.what();
  }
  ADD_FAILURE() << "expected an InfervisorError";
  return {};
}

// A binary response: the JSON header, then the raw bytes; returns body and header length.
std::pair<std::string, std::string> binary_response(const std::string& json,
                                                    const std::string& binary) {
  return {json + binary, std::to_string(json.size())};
}

const std::string kTwoBinaryOutputs =
    R"({"model_name":"m","model_version":"1","id":"r","outputs":[)"
    R"({"name":"y","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}},)"
    R"({"name":"mask","datatype":"BOOL","shape":[1,3],"parameters":{"binary_data_size":3}}]})";
const std::string kTwoBinaryData = raw_of<float>({0.5f, -1}) + "\x01\x00\x01"s;

TEST(client_kserve_response_test, DecodesJsonWithFlatData) {
  const auto sut =
      decode_infer_response(R"({"model_name":"m","model_version":"2","id":"r1","outputs":[)"
                            R"({"name":"y","datatype":"FP32","shape":[2,2],"data":[1,2.5,3,4]}]})",
                            std::nullopt);
  EXPECT_EQ(sut.model_name, "m");
  EXPECT_EQ(sut.model_version, "2");
  EXPECT_EQ(sut.id, "r1");
  ASSERT_EQ(sut.outputs.size(), 1u);
  EXPECT_EQ(sut.outputs[0].name, "y");
  EXPECT_EQ(sut.outputs[0].dtype, DType::kFloat32);
  EXPECT_EQ(sut.outputs[0].shape, (std::vector<std::int64_t>{2, 2}));
  EXPECT_EQ(sut.outputs[0].data, bytes_of<float>({1, 2.5f, 3, 4}));
}

TEST(client_kserve_response_test, DecodesJsonWithNestedData) {
  const auto sut = decode_infer_response(
      R"({"model_name":"m","outputs":[{"name":"y","datatype":"INT64","shape":[2,2],)"
      R"("data":[[1,2],[3,4]]},{"name":"b","datatype":"BOOL","shape":[],"data":[true]}]})",
      std::nullopt);
  ASSERT_EQ(sut.outputs.size(), 2u);
  EXPECT_EQ(sut.outputs[0].data, bytes_of<std::int64_t>({1, 2, 3, 4}));
  EXPECT_EQ(sut.outputs[1].data, bytes_of<std::uint8_t>({1}));
  EXPECT_TRUE(sut.outputs[1].shape.empty());
}

TEST(client_kserve_response_test, DecodesBinaryOutputsInOrder) {
  const auto [body, length] = binary_response(kTwoBinaryOutputs, kTwoBinaryData);
  const std::vector<std::string> requested{"mask", "y"};
  const auto sut = decode_infer_response(body, length, requested);
  ASSERT_EQ(sut.outputs.size(), 2u);
  EXPECT_EQ(sut.outputs[0].data, bytes_of<float>({0.5f, -1}));
  EXPECT_EQ(sut.outputs[1].name, "mask");
  EXPECT_EQ(sut.outputs[1].data, bytes_of<std::uint8_t>({1, 0, 1}));
}

TEST(client_kserve_response_test, DecodesMixedBinaryAndJsonOutputs) {
  const std::string json =
      R"({"model_name":"m","outputs":[{"name":"a","datatype":"INT8","shape":[2],"data":[-1,1]},)"
      R"({"name":"b","datatype":"FP16","shape":[1],"parameters":{"binary_data_size":2}},)"
      R"({"name":"c","datatype":"UINT8","shape":[0],"parameters":{"binary_data_size":0}}]})";
  const auto [body, length] = binary_response(json, "\x00\x3c"s);
  const auto sut = decode_infer_response(body, length);
  ASSERT_EQ(sut.outputs.size(), 3u);
  EXPECT_EQ(sut.outputs[0].data, bytes_of<std::int8_t>({-1, 1}));
  EXPECT_EQ(sut.outputs[1].data, bytes_of<std::uint16_t>({0x3c00}));
  EXPECT_TRUE(sut.outputs[2].data.empty());
}

TEST(client_kserve_response_test, AHeaderLengthCoveringTheWholeBodyIsPlainJson) {
  const std::string json =
      R"({"model_name":"m","outputs":[{"name":"a","datatype":"INT32","shape":[1],"data":[5]}]})";
  EXPECT_EQ(decode_infer_response(json, std::to_string(json.size())).outputs.size(), 1u);
}

TEST(client_kserve_response_test, ErrorMessagesComeFromTheErrorObject) {
  EXPECT_EQ(decode_error_message(R"({"error":"model 'm' is not ready"})"),
            "model 'm' is not ready");
  EXPECT_EQ(decode_error_message("plain text from a proxy\n"), "plain text from a proxy\\x0a");
  EXPECT_EQ(decode_error_message(R"({"error":42})"), R"({"error":42})");
  EXPECT_EQ(decode_error_message(""), "");
  EXPECT_EQ(decode_error_message("\x1b[2J"), "\\x1b[2J");
  EXPECT_EQ(decode_error_message(std::string(2000, 'a')).size(), 503u);
}

// Each of these must be refused with an InfervisorError that names the problem; none may crash
// or read out of bounds (the ASan build checks the latter).
TEST(client_kserve_response_test, RefusesMalformedJsonResponses) {
  const auto refused = [](const std::string& json, std::string_view why) {
    const auto message = error_of([&] { decode_infer_response(json, std::nullopt); });
    EXPECT_NE(message.find(why), std::string::npos) << json << "\n -> " << message;
  };
  const auto output = [](const std::string& fields) {
    return R"({"model_name":"m","outputs":[{)" + fields + "}]}";
  };
  refused("not json", "not valid JSON");
  refused("[]", "expected a JSON object");
  refused(R"({"model_name":"m"})", "outputs: missing");
  refused(R"({"outputs":{}})", "expected a JSON array");
  refused(R"({"outputs":[1]})", "outputs[0]: expected a JSON object");
  refused(R"({"model_name":7,"outputs":[]})", "model_name: expected a string");
  refused(output(R"("datatype":"FP32","shape":[1],"data":[1])"), "name: missing");
  refused(output(R"("name":"","datatype":"FP32","shape":[1],"data":[1])"), "name: empty");
  refused(output(R"("name":5,"datatype":"FP32","shape":[1],"data":[1])"), "expected a string");
  refused(output(R"("name":"y","datatype":"BYTES","shape":[1],"data":["a"])"), "'BYTES'");
  refused(output(R"("name":"y","datatype":"fp32","shape":[1],"data":[1])"), "'fp32'");
  refused(output(R"("name":"y","datatype":"FP32","data":[1])"), "shape: missing");
  refused(output(R"("name":"y","datatype":"FP32","shape":[-1],"data":[1])"), "non-negative");
  refused(output(R"("name":"y","datatype":"FP32","shape":[1.5],"data":[1])"), "non-negative");
  refused(output(R"("name":"y","datatype":"FP32","shape":"2","data":[1])"), "JSON array");
  refused(output(R"("name":"y","datatype":"FP32","shape":[1,1,1,1,1,1,1,1,1],"data":[1])"),
          "at most 8");
  refused(output(R"("name":"y","datatype":"FP32","shape":[18446744073709551615],"data":[1])"),
          "non-negative");
  refused(output(R"("name":"y","datatype":"FP32","shape":[4611686018427387904,4],"data":[1])"),
          "overflows");
  refused(output(R"("name":"y","datatype":"FP32","shape":[3],"data":[1,2])"), "has 2 values");
  refused(output(R"("name":"y","datatype":"INT32","shape":[1],"data":[1.5])"),
          "1.5, not an integer: INT32 data needs");
  refused(output(R"("name":"y","datatype":"FP32","shape":[1])"), "neither");
  refused(output(R"("name":"y","datatype":"FP32","shape":[1],"parameters":[])"), "JSON object");
  refused(output(R"("name":"y","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":4})"),
          "no Inference-Header-Content-Length");
  refused(R"({"outputs":[{"name":"y","datatype":"FP32","shape":[1],"data":[1]},)"
          R"({"name":"y","datatype":"FP32","shape":[1],"data":[2]}]})",
          "appears twice");
  refused(output(R"("name":"y","datatype":"FP64","shape":[1],"data":[1e400])"), "");
}

TEST(client_kserve_response_test, RefusesRequestedOutputsThatAreMissing) {
  const std::vector<std::string> requested{"y", "z"};
  const auto message = error_of([&] {
    decode_infer_response(R"({"outputs":[{"name":"y","datatype":"FP32","shape":[1],"data":[1]}]})",
                          std::nullopt, requested);
  });
  EXPECT_NE(message.find("'z'"), std::string::npos) << message;
}

TEST(client_kserve_response_test, RefusesBadBinaryLayouts) {
  const auto refused = [](const std::string& body, std::string_view length, std::string_view why) {
    const auto message = error_of([&] { decode_infer_response(body, length); });
    EXPECT_NE(message.find(why), std::string::npos) << length << " -> " << message;
  };
  const auto [body, length] = binary_response(kTwoBinaryOutputs, kTwoBinaryData);
  // Truncated binary data: the last output runs past the end.
  refused(body.substr(0, body.size() - 1), length, "past the end");
  // Extra bytes after the last output.
  refused(body + "x", length, "after the last output");
  // Header lengths that are not a plain decimal number inside the body.
  for (const char* bad : {"", "-5", "+5", " 5", "5x", "0x10", "99999999999999999999999"}) {
    refused(body, bad, "Inference-Header-Content-Length");
  }
  refused(body, std::to_string(body.size() + 1), "exceeds");
  // A header length that cuts the JSON short.
  refused(body, std::to_string(kTwoBinaryOutputs.size() - 1), "not valid JSON");
  // binary_data_size that disagrees with the shape, or is not a size.
  auto wrong_size = kTwoBinaryOutputs;
  wrong_size.replace(wrong_size.find("\"binary_data_size\":8"), 20, "\"binary_data_size\":7");
  refused(wrong_size + kTwoBinaryData.substr(1), std::to_string(wrong_size.size()),
          "does not match");
  for (const char* size : {"-8", "\"8\"", "8.5", "null"}) {
    auto bad = kTwoBinaryOutputs;
    bad.replace(bad.find("\"binary_data_size\":8"), 20,
                std::string("\"binary_data_size\":") + size);
    refused(bad + kTwoBinaryData, std::to_string(bad.size()), "binary_data_size");
  }
  // Both forms at once.
  const std::string both = R"({"outputs":[{"name":"y","datatype":"UINT8","shape":[1],"data":[1],)"
                           R"("parameters":{"binary_data_size":1}}]})";
  refused(both + "\x01", std::to_string(both.size()), "both");
  // BOOL bytes must be 0 or 1.
  refused(kTwoBinaryOutputs + raw_of<float>({0, 0}) + "\x01\x02\x01"s, length,
          "BOOL element 1 is 2");
}

// Random damage to a valid binary response: always a clean result or a clean InfervisorError.
TEST(client_kserve_response_test, RandomCorruptionNeverCrashes) {
  const auto [body, length] = binary_response(kTwoBinaryOutputs, kTwoBinaryData);
  std::mt19937 random(7);
  int refused = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string corrupt = body;
    std::string corrupt_length = length;
    const int flips = 1 + static_cast<int>(random() % 3);
    for (int i = 0; i < flips; ++i) {
      corrupt[random() % corrupt.size()] = static_cast<char>(random() % 256);
    }
    if (random() % 3 == 0) corrupt.resize(random() % (corrupt.size() + 1));
    if (random() % 5 == 0) corrupt_length = std::to_string(random() % (body.size() + 10));
    try {
      const auto result = decode_infer_response(corrupt, corrupt_length);
      for (const auto& output : result.outputs) {
        EXPECT_LE(output.data.size(), corrupt.size());
      }
    } catch (const InfervisorError&) {
      ++refused;
    }
  }
  EXPECT_GT(refused, 0);
}

TEST(client_kserve_response_test, DecodesServerMetadata) {
  const auto sut = decode_server_metadata(
      R"({"name":"infervisor","version":"0.1.0","extensions":["binary_tensor_data"]})");
  EXPECT_EQ(sut.name, "infervisor");
  EXPECT_EQ(sut.version, "0.1.0");
  EXPECT_EQ(sut.extensions, (std::vector<std::string>{"binary_tensor_data"}));
  EXPECT_THROW(decode_server_metadata(R"({"version":"1"})"), InfervisorError);
  EXPECT_THROW(decode_server_metadata(R"({"name":"x","extensions":[1]})"), InfervisorError);
}

TEST(client_kserve_response_test, DecodesModelMetadata) {
  const auto sut = decode_model_metadata(
      R"({"name":"resnet","versions":["1","2"],"platform":"pytorch_torchscript",)"
      R"("inputs":[{"name":"x","datatype":"FP32","shape":[-1,3,224,224]}],)"
      R"("outputs":[{"name":"y","datatype":"BYTES","shape":[-1]}]})");
  EXPECT_EQ(sut.name, "resnet");
  EXPECT_EQ(sut.versions, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(sut.platform, "pytorch_torchscript");
  ASSERT_EQ(sut.inputs.size(), 1u);
  EXPECT_EQ(sut.inputs[0].shape, (std::vector<std::int64_t>{-1, 3, 224, 224}));
  ASSERT_EQ(sut.outputs.size(), 1u);
  EXPECT_EQ(sut.outputs[0].datatype, "BYTES");
  EXPECT_THROW(decode_model_metadata(R"({"name":"m","inputs":[{"name":"x","datatype":"FP32"}]})"),
               InfervisorError);
  EXPECT_THROW(decode_model_metadata(
                   R"({"name":"m","inputs":[{"name":"x","datatype":"FP32","shape":[-2]}]})"),
               InfervisorError);
  EXPECT_THROW(decode_model_metadata(R"({"name":"m","inputs":{}})"), InfervisorError);
}

TEST(client_kserve_response_test, DecodesTheRepositoryIndex) {
  const auto sut = decode_repository_index(
      R"([{"name":"a","version":"1","state":"READY"},)"
      R"({"name":"b","state":"UNAVAILABLE","reason":"worker crashed"},{"name":"c"}])");
  ASSERT_EQ(sut.size(), 3u);
  EXPECT_EQ(sut[0].name, "a");
  EXPECT_EQ(sut[0].version, "1");
  EXPECT_EQ(sut[0].state, "READY");
  EXPECT_EQ(sut[1].reason, "worker crashed");
  EXPECT_TRUE(sut[2].version.empty());
  EXPECT_TRUE(decode_repository_index("[]").empty());
  for (const char* bad :
       {"{}", "[1]", R"([{"version":"1"}])", R"([{"name":"a","state":3}])", "["}) {
    EXPECT_THROW(decode_repository_index(bad), InfervisorError) << bad;
  }
}

const std::map<std::string, RegionRef> kOutputRegion{{"y", RegionRef{"out", 64, 16}}};

TEST(client_kserve_response_test, AnOutputAskedIntoARegionComesWithoutData) {
  const auto sut = decode_infer_response(
      R"({"outputs":[{"name":"y","datatype":"FP32","shape":[3],"parameters":)"
      R"({"shared_memory_region":"out","shared_memory_byte_size":16,"shared_memory_offset":64}},)"
      R"({"name":"z","datatype":"UINT8","shape":[1],"data":[3]}]})",
      std::nullopt, std::vector<std::string>{"y", "z"}, kOutputRegion);
  ASSERT_EQ(sut.outputs.size(), 2u);
  EXPECT_TRUE(sut.outputs[0].data.empty());
  EXPECT_EQ(sut.outputs[0].region, (RegionRef{"out", 64, 12}));  // the output's own size
  EXPECT_EQ(sut.outputs[1].data, bytes_of<std::uint8_t>({3}));
  EXPECT_FALSE(sut.outputs[1].region.has_value());
  // The parameters may be left out; an output that came in the body anyway is taken from it.
  const auto bare =
      decode_infer_response(R"({"outputs":[{"name":"y","datatype":"FP32","shape":[4]}]})",
                            std::nullopt, {}, kOutputRegion);
  EXPECT_EQ(bare.outputs.at(0).region, (RegionRef{"out", 64, 16}));
  const auto in_body = decode_infer_response(
      R"({"outputs":[{"name":"y","datatype":"FP32","shape":[1],"data":[2]}]})", std::nullopt, {},
      kOutputRegion);
  EXPECT_EQ(in_body.outputs.at(0).data, bytes_of<float>({2}));
  EXPECT_FALSE(in_body.outputs.at(0).region.has_value());
}

TEST(client_kserve_response_test, RefusesRegionOutputsThatDoNotMatchTheRequest) {
  const auto refused = [](const std::string& outputs, std::string_view why,
                          const std::map<std::string, RegionRef>& regions = kOutputRegion) {
    const auto message = error_of([&] {
      decode_infer_response(R"({"outputs":[)" + outputs + "]}", std::nullopt, {}, regions);
    });
    EXPECT_NE(message.find(why), std::string::npos) << outputs << " -> " << message;
  };
  const std::string y = R"({"name":"y","datatype":"FP32","shape":[2])";
  // Not asked into a region: an output without data is refused, parameters or not.
  refused(y + "}", "neither 'data' nor parameters.binary_data_size", {});
  refused(y + R"(,"parameters":{"shared_memory_region":"out","shared_memory_byte_size":16}})",
          "not asked for in a shared-memory region", {});
  // Asked, but the server says it used something else.
  refused(y + R"(,"parameters":{"shared_memory_region":"other"}})",
          "outputs[0].parameters.shared_memory_region: expected 'out'");
  refused(y + R"(,"parameters":{"shared_memory_region":7}})", "shared_memory_region");
  refused(y + R"(,"parameters":{"shared_memory_byte_size":8}})",
          "shared_memory_byte_size: expected 16");
  refused(y + R"(,"parameters":{"shared_memory_offset":0}})", "shared_memory_offset: expected 64");
  refused(y + R"(,"parameters":{"shared_memory_offset":-64}})", "non-negative integer");
  // Larger than the room asked for.
  refused(R"({"name":"y","datatype":"FP32","shape":[5]})",
          "20 bytes do not fit the 16 bytes requested in region 'out'");
  // Data in the body and region parameters at once.
  refused(y + R"(,"data":[1,2],"parameters":{"shared_memory_region":"out"}})",
          "shared_memory_* parameters and data in the body");
}

TEST(client_kserve_response_test, ReadsARegionOutputOutOfTheRegion) {
  std::vector<std::byte> region(128);
  const auto values = bytes_of<float>({1.5f, -2});
  std::memcpy(region.data() + 64, values.data(), values.size());
  Tensor output{"y", DType::kFloat32, {2}, {}, RegionRef{"out", 64, 8}};
  read_region_output(output, region);
  EXPECT_EQ(output.data, values);
  EXPECT_FALSE(output.region.has_value());
  EXPECT_THROW(read_region_output(output, region), InfervisorError);  // no region any more

  Tensor outside{"y", DType::kFloat32, {2}, {}, RegionRef{"out", 124, 8}};
  EXPECT_NE(error_of([&] { read_region_output(outside, region); }).find("outside region 'out'"),
            std::string::npos);
  Tensor far{"y", DType::kFloat32, {2}, {}, RegionRef{"out", UINT64_MAX, 8}};
  EXPECT_NE(error_of([&] { read_region_output(far, region); }).find("outside"), std::string::npos);
  region[0] = std::byte{2};
  Tensor flags{"b", DType::kBool, {1}, {}, RegionRef{"out", 0, 1}};
  EXPECT_NE(error_of([&] { read_region_output(flags, region); }).find("BOOL element 0 is 2"),
            std::string::npos);
}

TEST(client_kserve_response_test, DecodesSystemSharedMemoryStatus) {
  const auto sut = decode_system_shared_memory_status(
      R"([{"name":"a","key":"/ivcpp.1.0","offset":0,"byte_size":4096},)"
      R"({"name":"b","key":"/b","offset":64,"byte_size":1}])");
  EXPECT_EQ(sut,
            (std::vector<SystemRegionStatus>{{"a", "/ivcpp.1.0", 0, 4096}, {"b", "/b", 64, 1}}));
  EXPECT_TRUE(decode_system_shared_memory_status("[]").empty());
  EXPECT_EQ(decode_system_shared_memory_status(
                R"([{"name":"a","key":"/a","offset":0,"byte_size":1}])", "a")
                .size(),
            1u);
  const std::string a = R"("name":"a","key":"/a")";
  for (const auto& bad : std::vector<std::string>{
           "{}",
           "[1]",
           "[",
           R"([{"key":"/a","offset":0,"byte_size":1}])",
           R"([{"name":"","key":"/a","offset":0,"byte_size":1}])",
           R"([{"name":"a","offset":0,"byte_size":1}])",
           R"([{"name":"a","key":"","offset":0,"byte_size":1}])",
           "[{" + a + R"(,"byte_size":1}])",
           "[{" + a + R"(,"offset":0}])",
           "[{" + a + R"(,"offset":-1,"byte_size":1}])",
           "[{" + a + R"(,"offset":0,"byte_size":1.5}])",
           "[{" + a + R"(,"offset":0,"byte_size":"1"}])",
           "[{" + a + R"(,"offset":0,"byte_size":1},{)" + a + R"(,"offset":0,"byte_size":1}])",
       }) {
    EXPECT_THROW(decode_system_shared_memory_status(bad), InfervisorError) << bad;
  }
  EXPECT_NE(error_of([&] {
              decode_system_shared_memory_status(
                  R"([{"name":"a","key":"/a","offset":0,"byte_size":1}])", "b");
            }).find("the status of region 'b' was asked for"),
            std::string::npos);
}

TEST(client_kserve_response_test, DecodesCudaSharedMemoryStatus) {
  const auto sut = decode_cuda_shared_memory_status(
      R"([{"name":"g","device_id":1,"byte_size":4096},{"name":"h","device_id":0,"byte_size":8}])");
  EXPECT_EQ(sut, (std::vector<CudaRegionStatus>{{"g", 1, 4096}, {"h", 0, 8}}));
  EXPECT_TRUE(decode_cuda_shared_memory_status("[]").empty());
  for (const auto& bad : std::vector<std::string>{
           R"([{"device_id":0,"byte_size":1}])",
           R"([{"name":"g","byte_size":1}])",
           R"([{"name":"g","device_id":-1,"byte_size":1}])",
           R"([{"name":"g","device_id":99999999999,"byte_size":1}])",
           R"([{"name":"g","device_id":0}])",
           R"([{"name":"g","device_id":0,"byte_size":1},{"name":"g","device_id":0,"byte_size":1}])",
       }) {
    EXPECT_THROW(decode_cuda_shared_memory_status(bad), InfervisorError) << bad;
  }
  EXPECT_THROW(
      decode_cuda_shared_memory_status(R"([{"name":"g","device_id":0,"byte_size":1}])", "x"),
      InfervisorError);
}

}  // namespace
}  // namespace infervisor::client
