#include "client/client.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "tests/client/bytes.hpp"
#include "tests/client/fake_http_server.hpp"

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

}  // namespace
}  // namespace infervisor::client
