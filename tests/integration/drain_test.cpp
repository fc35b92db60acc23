// The graceful drain, connection side (issue 7): SIGTERM answers every request whose first byte
// reached the daemon before it normally, including one whose body is still arriving and ones on
// connections still in the listen backlog; a request that begins after it gets 503 with
// Connection: close; then the daemon exits 0.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "common/child_process.hpp"
#include "common/npy.hpp"
#include "raw_socket.hpp"
#include "running_daemon.hpp"

namespace infervisor::testing {
namespace {

using namespace std::chrono_literals;

const std::string kMlp = "  - name: mlp\n    path: " + (models_dir() / "mlp.pt").string() +
                         "\n    inputs: [{name: x, dtype: FP32, shape: [-1, 256]}]\n"
                         "    outputs: [{name: y, dtype: FP32, shape: [-1, 256]}]\n";

std::vector<std::byte> random_floats(std::size_t count, std::uint32_t seed) {
  std::mt19937 random(seed);
  std::uniform_real_distribution<float> values(-1.0f, 1.0f);
  std::vector<std::byte> out(count * sizeof(float));
  for (std::size_t i = 0; i < count; ++i) {
    const float value = values(random);
    std::memcpy(out.data() + i * sizeof(float), &value, sizeof(float));
  }
  return out;
}

// y for x = `data` ([rows, 256]), computed in process by infervisor-reference.
std::vector<std::byte> reference_output(const std::filesystem::path& folder,
                                        const std::vector<std::byte>& data, std::int64_t rows,
                                        const std::string& name) {
  const auto in = folder / (name + ".npy");
  const auto out = folder / (name + "-ref");
  const std::vector<std::int64_t> shape{rows, 256};
  write_npy(in, DType::kFloat32, shape, data);
  const auto status = ChildProcess::spawn(bin_dir() / "infervisor-reference",
                                          {"--model", (models_dir() / "mlp.pt").string(), "--input",
                                           "x=" + in.string(), "--out", out.string(), "--output",
                                           "y:float32:-1,256", "--threads", "1"})
                          .wait();
  EXPECT_TRUE(status.success()) << status.describe();
  return read_npy(out / "y.npy").data;
}

// A whole binary-data infer request for x = `data`, asking for y as binary data.
std::string binary_request(const std::vector<std::byte>& data, std::int64_t rows) {
  const std::string header =
      fmt::format(R"({{"inputs":[{{"name":"x","datatype":"FP32","shape":[{},256],)"
                  R"("parameters":{{"binary_data_size":{}}}}}],)"
                  R"("outputs":[{{"name":"y","parameters":{{"binary_data":true}}}}]}})",
                  rows, data.size());
  std::string body = header;
  body.append(reinterpret_cast<const char*>(data.data()), data.size());
  return http_request("POST", "/v2/models/mlp/infer", body,
                      fmt::format("Inference-Header-Content-Length: {}\r\n", header.size()));
}

// y's bytes from a binary-data reply ("" if it is not one).
std::string binary_output(const RawResponse& reply) {
  const auto header_length = reply.header("inference-header-content-length");
  if (header_length.empty()) return "";
  return reply.body.substr(std::stoul(header_length));
}

std::string as_string(const std::vector<std::byte>& bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

TEST(Drain_test, SigtermAnswersEveryRequestThatBeganBeforeItAndRefusesLaterOnes) {
  RunningDaemon daemon(kMlp, "drain_timeout: 60s\n");
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();

  constexpr std::int64_t kRows = 2048;  // 2 MiB of FP32
  const auto big = random_floats(kRows * 256, 7);
  const auto big_expected = as_string(reference_output(daemon.folder(), big, kRows, "big"));
  const auto small = random_floats(256, 8);
  const auto small_expected = as_string(reference_output(daemon.folder(), small, 1, "small"));
  const auto big_request = binary_request(big, kRows);
  const auto small_request = binary_request(small, 1);
  constexpr std::size_t kHeldBack = 1000;  // the last bytes of each big body come late

  // 16 clients whose bodies are all there but for their last bytes.
  constexpr int kClients = 16;
  std::vector<UniqueFd> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(connect_unix(daemon.socket()));
    ASSERT_TRUE(clients.back());
    ASSERT_TRUE(send_all(clients.back().get(),
                         std::string_view(big_request).substr(0, big_request.size() - kHeldBack)));
  }
  // One connected and served before SIGTERM, whose next request comes only after it.
  const auto late = connect_unix(daemon.socket());
  ResponseReader late_reader(late.get());
  ASSERT_TRUE(send_all(late.get(), "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(late_reader.next());

  // Two that connect and send while the daemon is stopped, so that SIGTERM and their connections
  // wait for it together: whichever it sees first after SIGCONT, they are served.
  // (http_listener_test leaves connections in the backlog at the drain deterministically.)
  ASSERT_EQ(::kill(daemon.pid(), SIGSTOP), 0);
  std::vector<UniqueFd> backlog;
  for (int i = 0; i < 2; ++i) {
    backlog.push_back(connect_unix(daemon.socket()));
    ASSERT_TRUE(backlog.back());
    ASSERT_TRUE(send_all(backlog.back().get(), small_request));  // fits the socket's buffer
  }
  ASSERT_EQ(::kill(daemon.pid(), SIGTERM), 0);
  ASSERT_EQ(::kill(daemon.pid(), SIGCONT), 0);
  ASSERT_TRUE(wait_for_log(daemon, "shutting down")) << daemon.log();

  // After the drain began: refused, and the connection closes.
  ASSERT_TRUE(send_all(late.get(), binary_request(small, 1)));
  const auto refused = late_reader.next();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503u) << refused->body;
  EXPECT_EQ(refused->header("connection"), "close");
  EXPECT_TRUE(late_reader.closes());

  // The clients are slow (this is the scenario, not a synchronization: the daemon must wait
  // for them however long they take, within drain_timeout).
  std::this_thread::sleep_for(300ms);
  for (auto& client : clients) {
    ASSERT_TRUE(send_all(client.get(),
                         std::string_view(big_request).substr(big_request.size() - kHeldBack)));
  }
  int answered = 0;
  for (auto& client : clients) {
    ResponseReader reader(client.get());
    const auto reply = reader.next(60s);
    ASSERT_TRUE(reply) << daemon.log();
    EXPECT_EQ(reply->status, 200u) << reply->body.substr(0, 300);
    EXPECT_EQ(reply->header("connection"), "close");
    if (binary_output(*reply) == big_expected) ++answered;
  }
  EXPECT_EQ(answered, kClients);
  for (auto& client : backlog) {
    ResponseReader reader(client.get());
    const auto reply = reader.next(60s);
    ASSERT_TRUE(reply) << daemon.log();
    EXPECT_EQ(reply->status, 200u) << reply->body.substr(0, 300);
    EXPECT_EQ(binary_output(*reply), small_expected);
  }
  std::printf("the drain %s the listen backlog\n",
              daemon.log().find("waiting in the listen backlog") == std::string::npos
                  ? "found nothing in"
                  : "accepted connections from");
  const auto status = daemon.wait_exit(60s);
  ASSERT_TRUE(status) << daemon.log();
  EXPECT_EQ(status->exit_code(), 0) << daemon.log();
  EXPECT_FALSE(std::filesystem::exists(daemon.socket()));
}

}  // namespace
}  // namespace infervisor::testing
