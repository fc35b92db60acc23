#include "client/client.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "tests/client/bytes.hpp"
#include "tests/client/fake_http_server.hpp"
#include "tests/client/stats_bodies.hpp"

namespace infervisor::client {
namespace {

using testing::bytes_of;

using testing::FakeHttpServer;
using testing::http_response;
using namespace std::string_literals;

class client_test : public ::testing::Test {
 protected:
  Client make_client() {
    ClientOptions options;
    options.endpoint = UnixEndpoint{server.socket_path()};
    options.request_timeout = std::chrono::seconds(5);
    return Client(options);
  }

  static InferRequest request(bool binary) {
    InferRequest request;
    request.model = "m";
    request.binary = binary;
    request.inputs.push_back(Tensor{"x", DType::kFloat32, {2}, bytes_of<float>({1, 2})});
    request.outputs = {"y"};
    return request;
  }

  FakeHttpServer server;
};

TEST_F(client_test, HealthIsTheStatusCode) {
  auto sut = make_client();
  server.reply(http_response(200, ""));
  server.reply(http_response(503, R"({"error":"loading"})"));
  EXPECT_TRUE(sut.server_live());
  EXPECT_FALSE(sut.server_ready());
  server.reply(http_response(200, ""));
  EXPECT_TRUE(sut.model_ready("m", "2"));
  const auto received = server.received();
  ASSERT_EQ(received.size(), 3u);
  EXPECT_EQ(received[0].target, "/v2/health/live");
  EXPECT_EQ(received[1].target, "/v2/health/ready");
  EXPECT_EQ(received[2].target, "/v2/models/m/versions/2/ready");
}

TEST_F(client_test, MetadataAndRepositoryIndex) {
  auto sut = make_client();
  server.reply(http_response(200, R"({"name":"infervisor","version":"0.1.0","extensions":[]})"));
  server.reply(http_response(
      200, R"({"name":"m","platform":"pytorch_torchscript","inputs":[],"outputs":[]})"));
  server.reply(http_response(200, R"([{"name":"m","version":"1","state":"READY"}])"));
  EXPECT_EQ(sut.server_metadata().name, "infervisor");
  EXPECT_EQ(sut.model_metadata("m").platform, "pytorch_torchscript");
  const auto index = sut.repository_index();
  ASSERT_EQ(index.size(), 1u);
  EXPECT_EQ(index[0].state, "READY");
  const auto received = server.received();
  ASSERT_EQ(received.size(), 3u);
  EXPECT_EQ(received[0].target, "/v2");
  EXPECT_EQ(received[1].target, "/v2/models/m");
  EXPECT_EQ(received[2].method, "POST");
  EXPECT_EQ(received[2].target, "/v2/repository/index");
  EXPECT_EQ(received[2].body, "{}");
  EXPECT_EQ(received[2].header("Content-Type"), "application/json");
  EXPECT_EQ(server.connections(), 1);
}

TEST_F(client_test, BinaryInferSendsHeaderAndBytesAndDecodesBinaryOutputs) {
  auto sut = make_client();
  const std::string json =
      R"({"model_name":"m","outputs":[{"name":"y","datatype":"INT32","shape":[2],)"
      R"("parameters":{"binary_data_size":8}}]})";
  server.reply(http_response(200, json + "\x07\x00\x00\x00\x09\x00\x00\x00"s,
                             {{"Content-Type", "application/octet-stream"},
                              {"Inference-Header-Content-Length", std::to_string(json.size())}}));
  const auto result = sut.infer(request(true));
  ASSERT_EQ(result.outputs.size(), 1u);
  EXPECT_EQ(result.outputs[0].data, bytes_of<std::int32_t>({7, 9}));

  const auto received = server.received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].target, "/v2/models/m/infer");
  EXPECT_EQ(received[0].header("Content-Type"), "application/octet-stream");
  const std::string expected_json =
      R"({"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}],)"
      R"("outputs":[{"name":"y","parameters":{"binary_data":true}}]})";
  EXPECT_EQ(received[0].header("Inference-Header-Content-Length"),
            std::to_string(expected_json.size()));
  const auto input_bytes = bytes_of<float>({1, 2});
  EXPECT_EQ(received[0].body,
            expected_json + std::string(reinterpret_cast<const char*>(input_bytes.data()), 8));
}

TEST_F(client_test, JsonInferSendsJsonAndAcceptsNestedData) {
  auto sut = make_client();
  server.reply(http_response(
      200,
      R"({"model_name":"m","outputs":[{"name":"y","datatype":"FP32","shape":[1,2],"data":[[0.5,1]]}]})"));
  const auto result = sut.infer(request(false));
  EXPECT_EQ(result.outputs.at(0).data, bytes_of<float>({0.5f, 1}));
  const auto received = server.received();
  EXPECT_EQ(received.at(0).header("Content-Type"), "application/json");
  EXPECT_FALSE(received.at(0).header("Inference-Header-Content-Length").has_value());
  EXPECT_EQ(received.at(0).body,
            R"({"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[1E0,2E0]}],)"
            R"("outputs":[{"name":"y"}]})");
}

TEST_F(client_test, ARefusalCarriesStatusAndServerMessage) {
  auto sut = make_client();
  server.reply(http_response(400, R"({"error":"input 'x' has shape [2], expected [-1, 3]"})"));
  try {
    sut.infer(request(true));
    FAIL() << "expected HttpError";
  } catch (const HttpError& error) {
    EXPECT_EQ(error.status(), 400u);
    EXPECT_EQ(error.server_message(), "input 'x' has shape [2], expected [-1, 3]");
    EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(std::string(error.what()),
              "POST /v2/models/m/infer: HTTP 400 Bad Request: input 'x' has shape [2], expected "
              "[-1, 3]");
  }
  server.reply(http_response(404, R"({"error":"no model 'q'"})"));
  EXPECT_THROW(sut.model_metadata("q"), HttpError);
  server.reply(http_response(500, "<html>oops</html>", {{"Content-Type", "text/html"}}));
  try {
    sut.repository_index();
    FAIL() << "expected HttpError";
  } catch (const HttpError& error) {
    EXPECT_EQ(error.status(), 500u);
    EXPECT_EQ(error.server_message(), "<html>oops</html>");
  }
}

TEST_F(client_test, ABadResponseNamesTheRequest) {
  auto sut = make_client();
  server.reply(http_response(
      200,
      R"({"model_name":"m","outputs":[{"name":"y","datatype":"FP32","shape":[3],"data":[1]}]})"));
  try {
    sut.infer(request(false));
    FAIL() << "expected InfervisorError";
  } catch (const InfervisorError& error) {
    EXPECT_EQ(error.code(), ErrorCode::kCorrupt);
    EXPECT_NE(std::string(error.what()).find("POST /v2/models/m/infer: bad response: outputs[0]"),
              std::string::npos)
        << error.what();
  }
}

TEST_F(client_test, SystemSharedMemoryCallsUseTritonsPaths) {
  auto sut = make_client();
  server.reply(http_response(200, "{}"));
  server.reply(http_response(200, "{}"));
  server.reply(http_response(200, "{}"));
  sut.register_system_shared_memory("in/1 ?", "/ivcpp.7.0", 4096, 64);
  sut.unregister_system_shared_memory("in/1 ?");
  sut.unregister_system_shared_memory(std::nullopt);
  const auto received = server.received();
  ASSERT_EQ(received.size(), 3u);
  for (const auto& request : received) {
    EXPECT_EQ(request.method, "POST");
    EXPECT_EQ(request.header("Content-Type"), "application/json");
  }
  EXPECT_EQ(received[0].target, "/v2/systemsharedmemory/region/in%2F1%20%3F/register");
  EXPECT_EQ(received[0].body, R"({"key":"/ivcpp.7.0","offset":64,"byte_size":4096})");
  EXPECT_EQ(received[1].target, "/v2/systemsharedmemory/region/in%2F1%20%3F/unregister");
  EXPECT_EQ(received[1].body, "{}");
  EXPECT_EQ(received[2].target, "/v2/systemsharedmemory/unregister");
  EXPECT_EQ(received[2].body, "{}");
}

TEST_F(client_test, SystemSharedMemoryStatusIsDecodedAndChecked) {
  auto sut = make_client();
  server.reply(http_response(200, R"([{"name":"a","key":"/a","offset":0,"byte_size":16},)"
                                  R"({"name":"b","key":"/b","offset":64,"byte_size":8}])"));
  server.reply(http_response(200, R"([{"name":"b","key":"/b","offset":64,"byte_size":8}])"));
  server.reply(http_response(200, R"([{"name":"a","key":"/a","offset":0,"byte_size":16}])"));
  server.reply(http_response(404, R"({"error":"no region 'c'"})"));
  EXPECT_EQ(sut.system_shared_memory_status(),
            (std::vector<SystemRegionStatus>{{"a", "/a", 0, 16}, {"b", "/b", 64, 8}}));
  EXPECT_EQ(sut.system_shared_memory_status("b"),
            (std::vector<SystemRegionStatus>{{"b", "/b", 64, 8}}));
  try {
    sut.system_shared_memory_status("b");  // answered with another region
    FAIL() << "expected InfervisorError";
  } catch (const InfervisorError& error) {
    EXPECT_EQ(error.code(), ErrorCode::kCorrupt);
    EXPECT_NE(std::string(error.what())
                  .find("GET /v2/systemsharedmemory/region/b/status: bad "
                        "response"),
              std::string::npos)
        << error.what();
  }
  try {
    sut.system_shared_memory_status("c");
    FAIL() << "expected HttpError";
  } catch (const HttpError& error) {
    EXPECT_EQ(error.status(), 404u);
    EXPECT_EQ(error.server_message(), "no region 'c'");
  }
  const auto received = server.received();
  ASSERT_EQ(received.size(), 4u);
  EXPECT_EQ(received[0].method, "GET");
  EXPECT_EQ(received[0].target, "/v2/systemsharedmemory/status");
  EXPECT_EQ(received[1].target, "/v2/systemsharedmemory/region/b/status");
}

TEST_F(client_test, ARegisterRefusalIsAnHttpError) {
  auto sut = make_client();
  server.reply(http_response(400, R"({"error":"cannot open shared-memory object /x"})"));
  try {
    sut.register_system_shared_memory("r", "/x", 8);
    FAIL() << "expected HttpError";
  } catch (const HttpError& error) {
    EXPECT_EQ(error.status(), 400u);
    EXPECT_EQ(error.server_message(), "cannot open shared-memory object /x");
  }
  EXPECT_EQ(server.received().at(0).body, R"({"key":"/x","offset":0,"byte_size":8})");
}

TEST_F(client_test, InferWithRegionsSendsReferencesAndReturnsRegionOutputs) {
  auto sut = make_client();
  auto infer = request(true);
  infer.inputs[0].data.clear();
  infer.inputs[0].region = RegionRef{"in", 64, 8};
  infer.outputs = {"y", "z"};
  infer.output_regions["y"] = RegionRef{"out", 128, 100};
  const std::string json =
      R"({"model_name":"m","outputs":[{"name":"y","datatype":"INT32","shape":[2],)"
      R"("parameters":{"shared_memory_region":"out","shared_memory_byte_size":100,)"
      R"("shared_memory_offset":128}},)"
      R"({"name":"z","datatype":"UINT8","shape":[1],"parameters":{"binary_data_size":1}}]})";
  server.reply(http_response(200, json + "\x05"s,
                             {{"Content-Type", "application/octet-stream"},
                              {"Inference-Header-Content-Length", std::to_string(json.size())}}));
  const auto result = sut.infer(infer);
  ASSERT_EQ(result.outputs.size(), 2u);
  EXPECT_TRUE(result.outputs[0].data.empty());
  EXPECT_EQ(result.outputs[0].region, (RegionRef{"out", 128, 8}));
  EXPECT_EQ(result.outputs[1].data, bytes_of<std::uint8_t>({5}));
  EXPECT_FALSE(result.outputs[1].region.has_value());

  const auto received = server.received().at(0);
  EXPECT_EQ(
      received.body,
      R"({"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":)"
      R"({"shared_memory_region":"in","shared_memory_byte_size":8,"shared_memory_offset":64}}],)"
      R"("outputs":[{"name":"y","parameters":{"shared_memory_region":"out",)"
      R"("shared_memory_byte_size":100,"shared_memory_offset":128}},)"
      R"({"name":"z","parameters":{"binary_data":true}}]})");
}

TEST_F(client_test, RepositoryCallsEncodeTheModelName) {
  auto sut = make_client();
  server.reply(http_response(200, "{}"));
  server.reply(http_response(200, "{}"));
  sut.load_model("a/../b");
  sut.unload_model("m");
  const auto received = server.received();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].target, "/v2/repository/models/a%2F..%2Fb/load");
  EXPECT_EQ(received[1].target, "/v2/repository/models/m/unload");
}

TEST_F(client_test, ModelStatisticsAsksTritonsPathsAndChecksTheModel) {
  auto sut = make_client();
  server.reply(http_response(200, testing::stats_body("mlp", 3)));
  server.reply(http_response(200, testing::stats_body("a/b", 1, true)));
  server.reply(http_response(200, testing::stats_body("mlp", 2)));
  server.reply(http_response(200, testing::stats_body("other", 2)));
  server.reply(http_response(404, R"({"error":"unknown model 'q'"})"));

  const auto all = sut.model_statistics();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].name, "mlp");
  EXPECT_EQ(all[0].inference_stats.success, (StatDuration{3, 3'600'000}));
  ASSERT_TRUE(all[0].infervisor.has_value());
  EXPECT_EQ(all[0].infervisor->workers.at(0).pid, 42u);
  const auto one = sut.model_statistics("a/b");
  EXPECT_FALSE(one.at(0).infervisor.has_value());
  EXPECT_EQ(sut.model_statistics("mlp", "1").at(0).inference_count, 2u);
  try {
    sut.model_statistics("mlp");  // answered with another model
    FAIL() << "expected InfervisorError";
  } catch (const InfervisorError& error) {
    EXPECT_EQ(error.code(), ErrorCode::kCorrupt);
    EXPECT_NE(std::string(error.what()).find("GET /v2/models/mlp/stats: bad response: "),
              std::string::npos)
        << error.what();
  }
  try {
    sut.model_statistics("q");
    FAIL() << "expected HttpError";
  } catch (const HttpError& error) {
    EXPECT_EQ(error.status(), 404u);
    EXPECT_EQ(error.server_message(), "unknown model 'q'");
  }
  const auto received = server.received();
  ASSERT_EQ(received.size(), 5u);
  EXPECT_EQ(received[0].method, "GET");
  EXPECT_EQ(received[0].target, "/v2/models/stats");
  EXPECT_EQ(received[1].target, "/v2/models/a%2Fb/stats");
  EXPECT_EQ(received[2].target, "/v2/models/mlp/versions/1/stats");
  EXPECT_EQ(received[3].target, "/v2/models/mlp/stats");
  EXPECT_EQ(received[4].target, "/v2/models/q/stats");
  EXPECT_EQ(server.connections(), 1);
}

}  // namespace
}  // namespace infervisor::client
