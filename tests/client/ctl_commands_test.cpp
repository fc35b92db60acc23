#include "client/ctl_commands.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstring>
#include <mutex>
#include <sstream>

#include "client/shared_memory_region.hpp"
#include "common/npy.hpp"
#include "tests/client/bytes.hpp"
#include "tests/client/fake_http_server.hpp"
#include "tests/client/stats_bodies.hpp"

namespace infervisor::client {
namespace {

using testing::FakeHttpServer;
using testing::http_response;
using namespace std::string_literals;
namespace json = boost::json;

class client_ctl_commands_test : public ::testing::Test {
 protected:
  CtlArgs args(CtlCommand command) const {
    CtlArgs args;
    args.command = command;
    args.socket = server.socket_path();
    args.timeout_seconds = 5;
    return args;
  }

  int run(const CtlArgs& args, bool terminal = false) {
    return run_ctl_command(args, out, err, terminal);
  }

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

TEST_F(client_ctl_commands_test, StatsPrintsEachModel) {
  server.reply(http_response(200, testing::stats_body("mlp", 3)));
  auto stats = args(CtlCommand::kStats);
  stats.model = "mlp";
  EXPECT_EQ(run(stats), 0);
  EXPECT_EQ(out.str(),
            "mlp (version 1)\n"
            "  requests:        3 ok, 0 failed\n"
            "  inferences:      3\n"
            "  executions:      3, average batch 1.00\n"
            "  batch sizes:     -\n"
            "  average µs:      queue 100.0, compute input 0.0, infer 1000.0, output 0.0\n"
            "  latency µs:      p50 1200.0, p99 1500.0\n"
            "  pending:         0\n"
            "  last inference:  never\n"
            "  workers:\n"
            "    INSTANCE  STATE  RESTARTS  PID\n"
            "           0  READY         0   42\n");
  EXPECT_EQ(server.received().at(0).target, "/v2/models/mlp/stats");
}

TEST_F(client_ctl_commands_test, TopPrintsAFramePerRefreshFromTwoSamples) {
  server.reply(http_response(200, testing::stats_body("mlp", 0)));
  server.reply(http_response(200, testing::stats_body("mlp", 5)));
  server.reply(http_response(200, testing::stats_body("mlp", 10)));
  auto top = args(CtlCommand::kTop);
  top.interval_seconds = 0.1;
  top.count = 2;
  EXPECT_EQ(run(top), 0);
  const auto text = out.str();
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << "no ANSI codes when not a terminal";
  const auto first = text.find("MODEL");
  ASSERT_NE(first, std::string::npos) << text;
  const auto second = text.find("MODEL", first + 1);
  ASSERT_NE(second, std::string::npos) << text;
  EXPECT_EQ(text.find("MODEL", second + 1), std::string::npos) << text;
  EXPECT_NE(text.find("\n\n1 model(s), over the last "), std::string::npos) << text;
  // Each interval: 5 requests of one inference each, 100 µs queueing, 1 ms computing.
  const auto row = text.find("\nmlp ", first);
  ASSERT_NE(row, std::string::npos) << text;
  const auto line = text.substr(row + 1, text.find('\n', row + 1) - row - 1);
  EXPECT_NE(line.find("  1.00  "), std::string::npos) << line;
  EXPECT_NE(line.find("  100.0  "), std::string::npos) << line;
  EXPECT_NE(line.find("  1000.0  "), std::string::npos) << line;
  EXPECT_NE(line.find("1/1"), std::string::npos) << line;
  const auto received = server.received();
  ASSERT_EQ(received.size(), 3u);
  for (const auto& request : received)
    EXPECT_EQ(request.target, "/v2/models/stats");
}

TEST_F(client_ctl_commands_test, TopClearsTheScreenOfATerminal) {
  server.reply(http_response(200, testing::stats_body("mlp", 0, true)));
  server.reply(http_response(200, testing::stats_body("mlp", 1, true)));
  auto top = args(CtlCommand::kTop);
  top.model = "mlp";
  top.interval_seconds = 0.1;
  top.count = 1;
  EXPECT_EQ(run(top, true), 0);
  EXPECT_TRUE(out.str().starts_with("\x1b[H\x1b[2J1 model(s)")) << out.str();
  EXPECT_EQ(server.received().at(1).target, "/v2/models/mlp/stats");
}

TEST_F(client_ctl_commands_test, TopStopsOnAnUnknownModel) {
  server.reply(http_response(404, R"({"error":"unknown model 'q'"})"));
  auto top = args(CtlCommand::kTop);
  top.model = "q";
  EXPECT_THROW(run(top), HttpError);
  EXPECT_EQ(out.str(), "");
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

// What a server does with a region: open the object by its key and read or write it.
std::string read_shm(const std::string& key, std::size_t offset, std::size_t size) {
  const int fd = ::shm_open(key.c_str(), O_RDONLY, 0);
  if (fd < 0) return "cannot open " + key;
  std::string bytes(size, '\0');
  const auto got = ::pread(fd, bytes.data(), size, static_cast<off_t>(offset));
  ::close(fd);
  return got == static_cast<ssize_t>(size) ? bytes : "short read of " + key;
}

bool write_shm(const std::string& key, std::size_t offset, std::string_view bytes) {
  const int fd = ::shm_open(key.c_str(), O_RDWR, 0);
  if (fd < 0) return false;
  const auto put = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
  ::close(fd);
  return put == static_cast<ssize_t>(bytes.size());
}

json::value parse_header(const FakeHttpServer::Received& request) {
  const auto length = request.header("Inference-Header-Content-Length");
  return json::parse(length ? request.body.substr(0, std::stoul(*length)) : request.body);
}

std::string key_of(const FakeHttpServer::Received& register_request) {
  return std::string(json::parse(register_request.body).at("key").as_string());
}

class client_ctl_shm_test : public client_ctl_commands_test {
 protected:
  void SetUp() override {
    const std::vector<float> x{1, 2, 3, 4, 5, 6};
    write_npy(dir / "x.npy", DType::kFloat32, std::vector<std::int64_t>{2, 3},
              std::as_bytes(std::span(x)));
    infer = args(CtlCommand::kInfer);
    infer.model = "m";
    infer.inputs = {{"x", dir / "x.npy"}};
    infer.shm = true;
  }

  void reply_metadata() {
    server.reply(http_response(
        200,
        R"({"name":"infervisor","extensions":["binary_tensor_data","system_shared_memory"]})"));
    server.reply(http_response(200, R"({"name":"m","inputs":[{"name":"x","datatype":"FP32",)"
                                    R"("shape":[-1,3]}],"outputs":[{"name":"y","datatype":"FP32",)"
                                    R"("shape":[-1,3]},{"name":"n","datatype":"INT64",)"
                                    R"("shape":[-1,-1]}]})"));
  }

  // The /dev/shm objects of this process that infervisorctl's regions would use.
  static std::vector<std::string> our_objects() {
    std::vector<std::string> found;
    const auto start = fmt::format("{}.{}.", SystemRegion::kDefaultPrefix, ::getpid());
    for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
      if (entry.path().filename().string().starts_with(start))
        found.push_back(entry.path().filename());
    }
    return found;
  }

  CtlArgs infer;
};

TEST_F(client_ctl_shm_test, InputsAndOutputsTravelThroughRegions) {
  reply_metadata();
  server.reply(http_response(200, "{}"));  // register the inputs' region
  server.reply(http_response(200, "{}"));  // register the outputs' region
  std::mutex mutex;
  std::string input_bytes;  // what the "server" found in the inputs' region
  server.reply([&](const FakeHttpServer::Received& request) {
    const auto received = server.received();
    const auto header = parse_header(request);
    const auto& x = header.at("inputs").at(0).at("parameters");
    const auto& y = header.at("outputs").at(0).at("parameters");
    {
      std::lock_guard lock(mutex);
      input_bytes =
          read_shm(key_of(received.at(2)), x.at("shared_memory_offset").to_number<std::size_t>(),
                   x.at("shared_memory_byte_size").to_number<std::size_t>());
    }
    const std::vector<float> y_values{10, 20, 30, 40, 50, 60};
    if (!write_shm(key_of(received.at(3)), y.at("shared_memory_offset").to_number<std::size_t>(),
                   testing::raw_of(y_values))) {
      return http_response(500, R"({"error":"test: cannot write the outputs' region"})");
    }
    const std::string json =
        R"({"model_name":"m","outputs":[{"name":"y","datatype":"FP32","shape":[2,3],"parameters":)" +
        json::serialize(y) +
        R"(},{"name":"n","datatype":"INT64","shape":[1,1],"parameters":{"binary_data_size":8}}]})";
    return http_response(200, json + testing::raw_of(std::vector<std::int64_t>{7}),
                         {{"Inference-Header-Content-Length", std::to_string(json.size())}});
  });
  server.reply(http_response(200, "{}"));  // unregister the outputs' region
  server.reply(http_response(200, "{}"));  // unregister the inputs' region
  infer.out_dir = dir / "results";

  EXPECT_EQ(run(infer), 0) << err.str();
  EXPECT_EQ(out.str(),
            "y FP32 [2, 3] [10, 20, 30, 40, 50, 60] min 10 max 60 mean 35\n"
            "n INT64 [1, 1] [7] min 7 max 7 mean 7\n");
  EXPECT_NE(err.str().find("output 'n' is INT64 [-1, -1]"), std::string::npos) << err.str();
  const auto written = read_npy(dir / "results" / "y.npy");
  EXPECT_EQ(written.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(written.data, testing::bytes_of<float>({10, 20, 30, 40, 50, 60}));
  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(input_bytes, testing::raw_of<float>({1, 2, 3, 4, 5, 6}));
  }

  const auto received = server.received();
  ASSERT_EQ(received.size(), 7u);
  EXPECT_EQ(received[0].target, "/v2");
  EXPECT_EQ(received[1].target, "/v2/models/m");
  const auto in_name = key_of(received[2]).substr(1);
  const auto out_name = key_of(received[3]).substr(1);
  EXPECT_NE(in_name, out_name);
  EXPECT_EQ(received[2].target, "/v2/systemsharedmemory/region/" + in_name + "/register");
  EXPECT_EQ(received[3].target, "/v2/systemsharedmemory/region/" + out_name + "/register");
  EXPECT_EQ(json::parse(received[2].body),
            json::parse(fmt::format(R"({{"key":"/{}","offset":0,"byte_size":64}})", in_name)));
  EXPECT_EQ(json::parse(received[3].body),
            json::parse(fmt::format(R"({{"key":"/{}","offset":0,"byte_size":64}})", out_name)));

  // The request refers to the regions and carries no tensor bytes.
  const auto header = parse_header(received[4]);
  EXPECT_EQ(received[4].body.size(), json::serialize(header).size());
  EXPECT_EQ(
      header.at("inputs"),
      json::parse(fmt::format(R"([{{"name":"x","shape":[2,3],"datatype":"FP32","parameters":{{)"
                              R"("shared_memory_region":"{}","shared_memory_byte_size":24,)"
                              R"("shared_memory_offset":0}}}}])",
                              in_name)));
  EXPECT_EQ(header.at("outputs"),
            json::parse(fmt::format(R"([{{"name":"y","parameters":{{"shared_memory_region":"{}",)"
                                    R"("shared_memory_byte_size":24,"shared_memory_offset":0}}}},)"
                                    R"({{"name":"n","parameters":{{"binary_data":true}}}}])",
                                    out_name)));

  EXPECT_EQ(received[5].target, "/v2/systemsharedmemory/region/" + out_name + "/unregister");
  EXPECT_EQ(received[6].target, "/v2/systemsharedmemory/region/" + in_name + "/unregister");
  EXPECT_EQ(our_objects(), std::vector<std::string>{});
}

TEST_F(client_ctl_shm_test, AFailedCallStillUnregistersAndUnlinks) {
  reply_metadata();
  server.reply(http_response(200, "{}"));
  server.reply(http_response(200, "{}"));
  std::mutex mutex;
  std::vector<std::string> objects_during_call;
  server.reply([&](const FakeHttpServer::Received&) {
    std::lock_guard lock(mutex);
    objects_during_call = our_objects();
    return http_response(400, R"({"error":"input 'x' has shape [2, 3], expected [-1, 4]"})");
  });
  server.reply(http_response(200, "{}"));
  server.reply(http_response(404, R"({"error":"no region"})"));  // a failing unregister: a note
  try {
    run(infer);
    FAIL() << "expected HttpError";
  } catch (const HttpError& error) {
    EXPECT_EQ(error.status(), 400u);
  }
  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(objects_during_call.size(), 2u);
  }
  const auto received = server.received();
  ASSERT_EQ(received.size(), 7u);
  EXPECT_TRUE(received[5].target.ends_with("/unregister"));
  EXPECT_TRUE(received[6].target.ends_with("/unregister"));
  EXPECT_NE(err.str().find("could not unregister"), std::string::npos) << err.str();
  EXPECT_EQ(our_objects(), std::vector<std::string>{});
}

TEST_F(client_ctl_shm_test, AServerWithoutTheExtensionIsRefusedBeforeAnythingIsCreated) {
  server.reply(http_response(200, R"({"name":"infervisor","extensions":["binary_tensor_data"]})"));
  try {
    run(infer);
    FAIL() << "expected InfervisorError";
  } catch (const InfervisorError& error) {
    EXPECT_NE(std::string(error.what()).find("system_shared_memory"), std::string::npos);
  }
  EXPECT_EQ(server.received().size(), 1u);
  EXPECT_EQ(our_objects(), std::vector<std::string>{});
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
