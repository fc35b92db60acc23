#include "client/ctl_commands.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <sstream>

#include "common/npy.hpp"
#include "tests/client/fake_http_server.hpp"

namespace infervisor::client {
namespace {

using testing::FakeHttpServer;
using testing::http_response;
using namespace std::string_literals;

class client_ctl_commands_test : public ::testing::Test {
 protected:
  CtlArgs args(CtlCommand command) const {
    CtlArgs args;
    args.command = command;
    args.socket = server.socket_path();
    args.timeout_seconds = 5;
    return args;
  }

  int run(const CtlArgs& args) { return run_ctl_command(args, out, err); }

  FakeHttpServer server;
  testing::TempDir dir;
  std::ostringstream out, err;
};

TEST_F(client_ctl_commands_test, HealthPrintsLiveAndReady) {
  server.reply(http_response(200, ""));
  server.reply(http_response(200, ""));
  EXPECT_EQ(run(args(CtlCommand::kHealth)), 0);
  EXPECT_EQ(out.str(), "live: yes\nready: yes\n");
}

TEST_F(client_ctl_commands_test, HealthExitsOneWhenNotReady) {
  server.reply(http_response(200, ""));
  server.reply(http_response(503, R"({"error":"models loading"})"));
  EXPECT_EQ(run(args(CtlCommand::kHealth)), 1);
  EXPECT_EQ(out.str(), "live: yes\nready: no\n");
}

TEST_F(client_ctl_commands_test, ModelsPrintsOneLinePerModel) {
  server.reply(http_response(
      200, R"([{"name":"resnet","version":"1","state":"READY"},)"
           R"({"name":"bert-large","state":"UNAVAILABLE","reason":"worker exited"}])"));
  EXPECT_EQ(run(args(CtlCommand::kModels)), 0);
  EXPECT_EQ(out.str(),
            "resnet      1        READY\n"
            "bert-large  -        UNAVAILABLE  (worker exited)\n");
}

TEST_F(client_ctl_commands_test, MetadataPrintsTensors) {
  server.reply(http_response(200,
                             R"({"name":"m","versions":["1"],"platform":"pytorch_torchscript",)"
                             R"("inputs":[{"name":"x","datatype":"FP32","shape":[-1,3]}],)"
                             R"("outputs":[{"name":"y","datatype":"INT64","shape":[-1]}]})"));
  auto metadata = args(CtlCommand::kMetadata);
  metadata.model = "m";
  EXPECT_EQ(run(metadata), 0);
  EXPECT_EQ(out.str(),
            "name: m\nversions: 1\nplatform: pytorch_torchscript\n"
            "inputs:\n  x FP32 [-1, 3]\noutputs:\n  y INT64 [-1]\n");
  EXPECT_EQ(server.received().at(0).target, "/v2/models/m");
}

TEST_F(client_ctl_commands_test, InferReadsNpySendsBinaryAndWritesOutputs) {
  const std::vector<float> x{1, 2, 3};
  write_npy(dir / "x.npy", DType::kFloat32, std::vector<std::int64_t>{1, 3},
            std::as_bytes(std::span(x)));
  const std::string json =
      R"({"model_name":"m","outputs":[{"name":"y","datatype":"FP32","shape":[1,3],)"
      R"("parameters":{"binary_data_size":12}},{"name":"h","datatype":"BF16","shape":[1],)"
      R"("parameters":{"binary_data_size":2}}]})";
  const std::vector<float> y{2, 4, 6};
  std::string binary(reinterpret_cast<const char*>(y.data()), 12);
  binary += "\xc0\x3f"s;  // bfloat16 1.5
  server.reply(http_response(200, json + binary,
                             {{"Inference-Header-Content-Length", std::to_string(json.size())}}));

  auto infer = args(CtlCommand::kInfer);
  infer.model = "m";
  infer.inputs = {{"x", dir / "x.npy"}};
  infer.out_dir = dir / "results";
  EXPECT_EQ(run(infer), 0);
  EXPECT_EQ(out.str(),
            "y FP32 [1, 3] [2, 4, 6] min 2 max 6 mean 4\n"
            "h BF16 [1] [1.5] min 1.5 max 1.5 mean 1.5\n");
  EXPECT_NE(err.str().find("'h' is BF16"), std::string::npos) << err.str();

  const auto received = server.received().at(0);
  EXPECT_EQ(received.header("Content-Type"), "application/octet-stream");
  EXPECT_NE(
      received.body.find(R"("shape":[1,3],"datatype":"FP32","parameters":{"binary_data_size":12})"),
      std::string::npos);
  EXPECT_NE(received.body.find(R"("binary_data_output":true)"), std::string::npos);

  const auto written = read_npy(dir / "results" / "y.npy");
  EXPECT_EQ(written.shape, (std::vector<std::int64_t>{1, 3}));
  EXPECT_EQ(std::memcmp(written.data.data(), y.data(), 12), 0);
  const auto widened = read_npy(dir / "results" / "h.npy");
  EXPECT_EQ(widened.dtype, DType::kFloat32);
  float h = 0;
  std::memcpy(&h, widened.data.data(), 4);
  EXPECT_EQ(h, 1.5f);
}

TEST_F(client_ctl_commands_test, InferWithJsonSendsJson) {
  const std::vector<std::int32_t> x{5};
  write_npy(dir / "x.npy", DType::kInt32, std::vector<std::int64_t>{}, std::as_bytes(std::span(x)));
  server.reply(http_response(
      200,
      R"({"model_name":"m","outputs":[{"name":"y","datatype":"INT32","shape":[],"data":[6]}]})"));
  auto infer = args(CtlCommand::kInfer);
  infer.model = "m";
  infer.inputs = {{"x", dir / "x.npy"}};
  infer.outputs = {"y"};
  infer.json = true;
  EXPECT_EQ(run(infer), 0);
  EXPECT_EQ(out.str(), "y INT32 [] [6] min 6 max 6 mean 6\n");
  EXPECT_EQ(server.received().at(0).body,
            R"({"inputs":[{"name":"x","shape":[],"datatype":"INT32","data":[5]}],)"
            R"("outputs":[{"name":"y"}]})");
}

TEST_F(client_ctl_commands_test, AHostileOutputNameCannotEscapeTheOutDir) {
  const std::vector<std::uint8_t> x{1};
  write_npy(dir / "x.npy", DType::kUInt8, std::vector<std::int64_t>{1},
            std::as_bytes(std::span(x)));
  server.reply(http_response(
      200,
      R"({"model_name":"m","outputs":[{"name":"../evil","datatype":"UINT8","shape":[1],"data":[1]}]})"));
  auto infer = args(CtlCommand::kInfer);
  infer.model = "m";
  infer.inputs = {{"x", dir / "x.npy"}};
  infer.out_dir = dir / "results";
  EXPECT_THROW(run(infer), InfervisorError);
  EXPECT_FALSE(std::filesystem::exists(dir / "evil.npy"));
}

TEST_F(client_ctl_commands_test, ABadInputFileNamesTheInputAndFile) {
  auto infer = args(CtlCommand::kInfer);
  infer.model = "m";
  infer.inputs = {{"x", dir / "nope.npy"}};
  try {
    run(infer);
    FAIL() << "expected a throw";
  } catch (const InfervisorError& error) {
    EXPECT_NE(std::string(error.what()).find("input 'x'"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("nope.npy"), std::string::npos);
  }
  EXPECT_EQ(server.connections(), 0);
}

TEST_F(client_ctl_commands_test, ClientOptionsFollowTheFlags) {
  CtlArgs url;
  url.url = "http://127.0.0.1:8000";
  url.timeout_seconds = 0.25;
  const auto options = ctl_client_options(url);
  EXPECT_EQ(std::get<TcpEndpoint>(options.endpoint).port, 8000);
  EXPECT_EQ(options.request_timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(options.connect_timeout, std::chrono::milliseconds(250));
}

}  // namespace
}  // namespace infervisor::client
