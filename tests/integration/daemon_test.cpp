// infervisord end to end: the real daemon, workers and models, driven through the socket.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <cstring>
#include <fstream>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "common/npy.hpp"
#include "common/unique_fd.hpp"
#include "raw_http.hpp"
#include "running_daemon.hpp"

namespace infervisor::testing {
namespace {

using namespace std::chrono_literals;

std::string model_entry(const std::string& name, const std::string& file, const std::string& extra,
                        const std::string& dtype = "FP32", const std::string& shape = "[-1, 256]") {
  return "  - name: " + name + "\n    path: " + (models_dir() / file).string() + "\n" + extra +
         "    inputs: [{name: x, dtype: " + dtype + ", shape: " + shape + "}]\n" +
         "    outputs: [{name: y, dtype: " + dtype + ", shape: " + shape + "}]\n";
}

client::Tensor random_tensor(std::int64_t batch, std::uint32_t seed) {
  std::mt19937 random(seed);
  std::uniform_real_distribution<float> values(-1.0f, 1.0f);
  client::Tensor tensor{"x", DType::kFloat32, {batch, 256}, {}};
  tensor.data.resize(static_cast<std::size_t>(batch) * 256 * sizeof(float));
  for (std::size_t i = 0; i < tensor.data.size(); i += sizeof(float)) {
    const float value = values(random);
    std::memcpy(tensor.data.data() + i, &value, sizeof(float));
  }
  return tensor;
}

// A one-element FP32 input [1, 1] for the slow model: `rounds` matrix products.
client::Tensor slow_input(float rounds) {
  client::Tensor tensor{"x", DType::kFloat32, {1, 1}, std::vector<std::byte>(4)};
  std::memcpy(tensor.data.data(), &rounds, 4);
  return tensor;
}

int run(const std::filesystem::path& program, const std::vector<std::string>& args) {
  const auto status = ChildProcess::spawn(program, args).wait();
  return status.exited() ? status.exit_code() : 128;
}

// The in-process answer for `input`, computed by infervisor-reference.
std::vector<std::byte> reference_output(const std::filesystem::path& folder,
                                        const client::Tensor& input, int index) {
  const auto in = folder / fmt::format("in{}.npy", index);
  const auto out = folder / fmt::format("ref{}", index);
  write_npy(in, input.dtype, input.shape, input.data);
  EXPECT_EQ(run(bin_dir() / "infervisor-reference",
                {"--model", (models_dir() / "mlp.pt").string(), "--input", "x=" + in.string(),
                 "--out", out.string(), "--output", "y:float32:-1,256", "--threads", "1"}),
            0);
  return read_npy(out / "y.npy").data;
}

client::InferRequest request_for(const std::string& model, client::Tensor input,
                                 bool binary = true) {
  client::InferRequest request;
  request.model = model;
  request.inputs.push_back(std::move(input));
  request.binary = binary;
  return request;
}

// The HTTP status a refused request got, or 200.
unsigned status_of(client::Client& client, const client::InferRequest& request,
                   std::string* message = nullptr) {
  try {
    client.infer(request);
    return 200;
  } catch (const client::HttpError& error) {
    if (message) *message = error.server_message();
    return error.status();
  }
}

TEST(Daemon_test, ConcurrentJsonAndBinaryJobsMatchTheInProcessForward) {
  RunningDaemon daemon(model_entry("mlp", "mlp.pt", "    instances: {count: 2}\n"));
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();

  constexpr int kInputs = 6;
  std::vector<client::Tensor> inputs;
  std::vector<std::vector<std::byte>> expected;
  for (int i = 0; i < kInputs; ++i) {
    inputs.push_back(random_tensor(1 + i % 4, 100 + i));
    expected.push_back(reference_output(daemon.folder(), inputs.back(), i));
  }

  constexpr int kThreads = 8;
  constexpr int kJobsPerThread = 25;
  std::vector<std::future<int>> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.push_back(std::async(std::launch::async, [&, t] {
      auto client = daemon.client();
      int matches = 0;
      for (int j = 0; j < kJobsPerThread; ++j) {
        const int which = (t * kJobsPerThread + j) % kInputs;
        auto request = request_for("mlp", inputs[which], /*binary=*/(t + j) % 2 == 0);
        request.id = fmt::format("t{}j{}", t, j);
        const auto result = client.infer(request);
        EXPECT_EQ(result.id, request.id);
        EXPECT_EQ(result.model_name, "mlp");
        if (result.outputs.size() == 1 && result.outputs[0].name == "y" &&
            result.outputs[0].shape == std::vector<std::int64_t>{inputs[which].shape[0], 256} &&
            result.outputs[0].data == expected[which]) {
          ++matches;
        }
      }
      return matches;
    }));
  }
  for (auto& thread : threads)
    EXPECT_EQ(thread.get(), kJobsPerThread);
  EXPECT_EQ(daemon.stop().exit_code(), 0);
}

TEST(Daemon_test, MetadataAndHealthEndpoints) {
  RunningDaemon daemon(model_entry("mlp", "mlp.pt", "    version: '3'\n"));
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  auto client = daemon.client();
  EXPECT_TRUE(client.server_live());
  EXPECT_TRUE(client.model_ready("mlp"));
  EXPECT_TRUE(client.model_ready("mlp", "3"));
  EXPECT_FALSE(client.model_ready("mlp", "4"));
  const auto server = client.server_metadata();
  EXPECT_EQ(server.name, "infervisor");
  const auto metadata = client.model_metadata("mlp");
  EXPECT_EQ(metadata.name, "mlp");
  EXPECT_EQ(metadata.versions, std::vector<std::string>{"3"});
  ASSERT_EQ(metadata.inputs.size(), 1u);
  EXPECT_EQ(metadata.inputs[0].datatype, "FP32");
  EXPECT_EQ(metadata.inputs[0].shape, (std::vector<std::int64_t>{-1, 256}));
  EXPECT_EQ(metadata.outputs[0].name, "y");
  const auto index = client.repository_index();
  ASSERT_EQ(index.size(), 1u);
  EXPECT_EQ(index[0].state, "READY");
}

// A free loopback port: bind to port 0, read it back, let it go.
std::uint16_t free_loopback_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor probe(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return probe.local_endpoint().port();
}

// Connects a blocking Unix socket to `path`.
UniqueFd connect_to(const std::filesystem::path& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0);
  return fd;
}

// What arrives on `fd` until `needle` has, or nothing more comes for `patience`.
std::string read_until(int fd, std::string_view needle, std::chrono::milliseconds patience) {
  std::string got;
  while (got.find(needle) == std::string::npos) {
    pollfd ready{fd, POLLIN, 0};
    if (::poll(&ready, 1, static_cast<int>(patience.count())) != 1) break;
    char chunk[4096];
    const auto n = ::read(fd, chunk, sizeof(chunk));
    if (n <= 0) break;
    got.append(chunk, static_cast<std::size_t>(n));
  }
  return got;
}

TEST(Daemon_test, AnswersExpect100ContinueBeforeTheBodyIsSent) {
  RunningDaemon daemon(model_entry("mlp", "mlp.pt", ""));
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  std::string body = R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,256],"data":[)";
  for (int i = 0; i < 256; ++i)
    body += i ? ",0.5" : "0.5";
  body += "]}]}";
  const auto fd = connect_to(daemon.socket());
  const std::string head = fmt::format(
      "POST /v2/models/mlp/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Expect: 100-continue\r\nContent-Length: {}\r\n\r\n",
      body.size());
  ASSERT_EQ(::write(fd.get(), head.data(), head.size()), static_cast<ssize_t>(head.size()));
  // Without the interim answer a client would wait (curl: 1 s) and then send the body anyway;
  // the generous patience only keeps a broken daemon from hanging the test.
  const auto interim = read_until(fd.get(), "\r\n\r\n", 10s);
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_EQ(::write(fd.get(), body.data(), body.size()), static_cast<ssize_t>(body.size()));
  const auto reply = read_until(fd.get(), "]}]}", 10s);
  EXPECT_EQ(reply.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << reply;
}

TEST(Daemon_test, WorkersInheritNeitherTheListenersNorClientConnections) {
  RunningDaemon daemon(model_entry("mlp", "mlp.pt", ""),
                       fmt::format("tcp: 127.0.0.1:{}\n", free_loopback_port()));
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  // A connection open while a worker is (re)spawned must not leak into it either.
  const auto idle_connection = connect_to(daemon.socket());
  const auto first = daemon.worker_pids();
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(::kill(first[0], SIGKILL), 0);
  auto client = daemon.client();
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline &&
         (!client.model_ready("mlp") || daemon.worker_pids() == first)) {
    std::this_thread::sleep_for(20ms);
  }
  const auto workers = daemon.worker_pids();
  ASSERT_EQ(workers.size(), 1u);
  ASSERT_NE(workers, first);
  const auto fds = std::filesystem::path("/proc") / std::to_string(workers[0]) / "fd";
  for (const auto& entry : std::filesystem::directory_iterator(fds)) {
    std::error_code ec;
    const auto target = std::filesystem::read_symlink(entry.path(), ec).string();
    EXPECT_EQ(target.rfind("socket:", 0), std::string::npos)
        << "worker fd " << entry.path().filename() << " is " << target;
  }
}

// The BLAS under libtorch reads its thread count from the environment when it loads: a worker
// must start with its `threads`, or each matrix product runs on every core.
TEST(Daemon_test, AWorkersBlasIsLimitedToItsIntraOpThreads) {
  RunningDaemon daemon(model_entry("mlp", "mlp.pt", "    threads: 2\n"));
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const auto workers = daemon.worker_pids();
  ASSERT_EQ(workers.size(), 1u);
  std::ifstream environ(std::filesystem::path("/proc") / std::to_string(workers[0]) / "environ",
                        std::ios::binary);
  std::vector<std::string> entries;
  for (std::string entry; std::getline(environ, entry, '\0');)
    entries.push_back(entry);
  for (const std::string expected : {"OMP_NUM_THREADS=2", "OPENBLAS_NUM_THREADS=2"}) {
    EXPECT_EQ(std::count(entries.begin(), entries.end(), expected), 1) << expected;
  }
  EXPECT_EQ(daemon.stop().exit_code(), 0);
}

TEST(Daemon_test, EveryErrorHasItsStatusAndSaysWhy) {
  RunningDaemon daemon(model_entry("mlp", "mlp.pt", "    ring_size: 64KiB\n") +
                           model_entry("faulty", "faulty.pt", "", "FP32", "[-1]"),
                       "max_request_size: 1MiB\n");
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  auto client = daemon.client();
  const auto& socket = daemon.socket();
  std::string message;

  // 400: malformed JSON, wrong input name, dtype, shape, and binary sizes that do not add up.
  auto reply = raw_request(socket, "POST", "/v2/models/mlp/infer", "{\"inputs\": [");
  EXPECT_EQ(reply.status, 400u);
  EXPECT_NE(reply.body.find("not valid JSON"), std::string::npos) << reply.body;
  auto renamed = request_for("mlp", random_tensor(1, 1));
  renamed.inputs[0].name = "z";
  EXPECT_EQ(status_of(client, renamed, &message), 400u);
  EXPECT_NE(message.find("no input 'z'"), std::string::npos) << message;
  client::Tensor doubles{"x", DType::kFloat64, {1, 256}, std::vector<std::byte>(256 * 8)};
  EXPECT_EQ(status_of(client, request_for("mlp", doubles), &message), 400u);
  EXPECT_NE(message.find("expects FP32"), std::string::npos) << message;
  client::Tensor narrow{"x", DType::kFloat32, {1, 255}, std::vector<std::byte>(255 * 4)};
  EXPECT_EQ(status_of(client, request_for("mlp", narrow, false), &message), 400u);
  EXPECT_NE(message.find("[-1, 256]"), std::string::npos) << message;
  const std::string header =
      R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,256],"parameters":{"binary_data_size":1024}}]})";
  reply = raw_request(socket, "POST", "/v2/models/mlp/infer", header + std::string(1000, '\0'),
                      {{"Inference-Header-Content-Length", std::to_string(header.size())}});
  EXPECT_EQ(reply.status, 400u) << reply.body;

  // A shape far larger than its data is refused before anything is allocated for it.
  reply = raw_request(
      socket, "POST", "/v2/models/mlp/infer",
      R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1000000000000,256],"data":[]}]})");
  EXPECT_EQ(reply.status, 413u) << reply.body;
  EXPECT_NE(reply.body.find("ring_size"), std::string::npos) << reply.body;

  // 404: unknown model or endpoint; 405: wrong method.
  EXPECT_EQ(status_of(client, request_for("nosuch", random_tensor(1, 1))), 404u);
  EXPECT_EQ(raw_request(socket, "GET", "/v2/models/nosuch").status, 404u);
  EXPECT_EQ(raw_request(socket, "GET", "/v3/models").status, 404u);
  EXPECT_EQ(raw_request(socket, "DELETE", "/v2/models/mlp").status, 405u);

  // 413: more than the ring carries per job, and more than max_request_size.
  EXPECT_EQ(status_of(client, request_for("mlp", random_tensor(100, 1)), &message), 413u);
  EXPECT_NE(message.find("ring_size"), std::string::npos) << message;
  reply = raw_request(socket, "POST", "/v2/models/mlp/infer", std::string(2u << 20, ' '));
  EXPECT_EQ(reply.status, 413u);
  EXPECT_NE(reply.body.find("max_request_size"), std::string::npos) << reply.body;

  // 500: the model raised. The worker lives on and serves the next job.
  client::Tensor negative{"x", DType::kFloat32, {2}, std::vector<std::byte>(8)};
  const float minus_one = -1.0f;
  std::memcpy(negative.data.data(), &minus_one, 4);
  EXPECT_EQ(status_of(client, request_for("faulty", negative), &message), 500u);
  EXPECT_NE(message.find("negative"), std::string::npos) << message;
  client::Tensor positive{"x", DType::kFloat32, {2}, std::vector<std::byte>(8)};
  const auto result = client.infer(request_for("faulty", positive));
  ASSERT_EQ(result.outputs.size(), 1u);
  EXPECT_EQ(result.outputs[0].shape, (std::vector<std::int64_t>{2}));

  // Nothing above disturbed the service.
  EXPECT_EQ(client.infer(request_for("mlp", random_tensor(1, 2))).outputs.size(), 1u);
  EXPECT_EQ(daemon.stop().exit_code(), 0);
}

// The daemon logs each job's queueing and dispatch at debug level: what these tests wait for.
bool logged(const RunningDaemon& daemon, const std::string& text, int times = 1,
            std::chrono::seconds limit = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  auto count = [&] {
    const auto log = daemon.log();
    int n = 0;
    for (auto at = log.find(text); at != std::string::npos; at = log.find(text, at + 1))
      ++n;
    return n;
  };
  while (count() < times && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  return count() >= times;
}

TEST(Daemon_test, AFullQueueAnswers503AndLosesNothing) {
  // The first job hangs (tests/ops: 777 never returns) until the test kills its worker, so the
  // second stays queued for as long as the test needs, however fast the machine.
  RunningDaemon daemon("  - name: hang\n    path: " + (models_dir() / "hang.pt").string() +
                           "\n    libraries: [" + std::string(INFERVISOR_TEST_OPS_LIBRARY) +
                           "]\n    max_inflight: 1\n    max_queue: 1\n    on_worker_death: fail\n"
                           "    inputs: [{name: x, dtype: FP32, shape: [-1, 1]}]\n"
                           "    outputs: [{name: y, dtype: FP32, shape: [-1, 1]}]\n",
                       "log_level: debug\n");
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  std::string running_message;
  auto running = std::async(std::launch::async, [&] {
    return status_of(*std::make_unique<client::Client>(daemon.client()),
                     request_for("hang", slow_input(777)), &running_message);
  });
  ASSERT_TRUE(logged(daemon, "job 1 dispatched")) << daemon.log();
  auto queued = std::async(std::launch::async, [&] {
    return status_of(*std::make_unique<client::Client>(daemon.client()),
                     request_for("hang", slow_input(1)));
  });
  ASSERT_TRUE(logged(daemon, "job 2: queued")) << daemon.log();
  auto client = daemon.client();
  std::string message;
  EXPECT_EQ(status_of(client, request_for("hang", slow_input(1)), &message), 503u);
  EXPECT_NE(message.find("max_queue"), std::string::npos) << message;
  // Nothing is lost: the hung job is answered when its worker dies, the queued one after it.
  for (const pid_t worker : daemon.worker_pids())
    ::kill(worker, SIGKILL);
  EXPECT_EQ(running.get(), 500u) << running_message;
  EXPECT_EQ(queued.get(), 200u);
}

TEST(Daemon_test, WithOnWorkerDeathFailAWorkerKilledMidJobFailsThatJobAndIsReplaced) {
  RunningDaemon daemon(
      model_entry("slow", "slow.pt", "    on_worker_death: fail\n", "FP32", "[-1, 1]"),
      "log_level: debug\n");
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const auto workers = daemon.worker_pids();
  ASSERT_EQ(workers.size(), 1u);
  std::string message;
  auto doomed = std::async(std::launch::async, [&] {
    auto client = daemon.client();
    return status_of(client, request_for("slow", slow_input(5000)), &message);
  });
  ASSERT_TRUE(logged(daemon, "job 1 dispatched")) << daemon.log();
  ASSERT_EQ(::kill(workers[0], SIGKILL), 0);
  EXPECT_EQ(doomed.get(), 500u);
  EXPECT_NE(message.find("killed by signal 9"), std::string::npos) << message;

  // A job sent while no worker is ready waits for the replacement instead of failing.
  auto client = daemon.client();
  EXPECT_EQ(status_of(client, request_for("slow", slow_input(1)), &message), 200u) << message;
  const auto replaced = daemon.worker_pids();
  ASSERT_EQ(replaced.size(), 1u);
  EXPECT_NE(replaced[0], workers[0]);
  EXPECT_EQ(daemon.stop().exit_code(), 0);
  EXPECT_TRUE(daemon.leftover_segments().empty());
}

TEST(Daemon_test, SigtermAnswersEveryJobInFlightAndCleansUp) {
  RunningDaemon daemon(
      model_entry("slow", "slow.pt", "    instances: {count: 2}\n    max_inflight: 2\n", "FP32",
                  "[-1, 1]"),
      "log_level: debug\n");
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  EXPECT_EQ(daemon.leftover_segments().size(), 2u);
  constexpr int kJobs = 6;
  std::vector<std::future<unsigned>> jobs;
  for (int i = 0; i < kJobs; ++i) {
    jobs.push_back(std::async(std::launch::async, [&] {
      auto client = daemon.client();
      return status_of(client, request_for("slow", slow_input(300)));
    }));
  }
  ASSERT_TRUE(logged(daemon, ": queued (", kJobs)) << daemon.log();  // all accepted
  const auto status = daemon.stop();
  for (auto& job : jobs)
    EXPECT_EQ(job.get(), 200u);
  EXPECT_TRUE(status.success()) << status.describe() << "\n" << daemon.log();
  EXPECT_TRUE(daemon.leftover_segments().empty());
  EXPECT_FALSE(std::filesystem::exists(daemon.socket()));
  EXPECT_NE(daemon.log().find("exited cleanly"), std::string::npos) << daemon.log();
}

TEST(Daemon_test, AModelThatCannotLoadStopsStartUpWithTheWorkersReason) {
  const auto bogus =
      std::filesystem::temp_directory_path() / fmt::format("bogus-{}.pt", ::getpid());
  std::ofstream(bogus) << "this is not a TorchScript archive";
  RunningDaemon broken("  - name: broken\n    path: " + bogus.string() +
                       "\n    inputs: [{name: x, dtype: FP32, shape: [1]}]\n"
                       "    outputs: [{name: y, dtype: FP32, shape: [1]}]\n");
  broken.start();
  const auto status = broken.wait_exit(60s);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->exit_code(), 1) << broken.log();
  const auto log = broken.log();
  EXPECT_NE(log.find("start-up failed"), std::string::npos) << log;
  EXPECT_NE(log.find("bogus-"), std::string::npos) << log;
  EXPECT_TRUE(broken.leftover_segments().empty());
  EXPECT_FALSE(std::filesystem::exists(broken.socket()));
  std::filesystem::remove(bogus);
}

TEST(Daemon_test, AWorkerThatCannotBeSpawnedStopsStartUp) {
  RunningDaemon broken(model_entry("mlp", "mlp.pt", "    instances: {count: 2}\n"),
                       "worker_path: /nonexistent/infervisor-worker\n");
  broken.start();
  const auto status = broken.wait_exit(30s);
  ASSERT_TRUE(status) << broken.log();
  EXPECT_EQ(status->exit_code(), 1) << broken.log();
  EXPECT_NE(broken.log().find("cannot spawn /nonexistent/infervisor-worker"), std::string::npos)
      << broken.log();
  EXPECT_TRUE(broken.leftover_segments().empty());
  EXPECT_FALSE(std::filesystem::exists(broken.socket()));
}

TEST(Daemon_test, InfervisorctlInfersFromNpyFiles) {
  RunningDaemon daemon(model_entry("mlp", "mlp.pt", ""));
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const auto input = random_tensor(3, 7);
  const auto expected = reference_output(daemon.folder(), input, 0);
  const auto out = daemon.folder() / "ctl-out";
  const auto socket = daemon.socket().string();
  EXPECT_EQ(run(bin_dir() / "infervisorctl", {"--socket", socket, "health"}), 0);
  EXPECT_EQ(run(bin_dir() / "infervisorctl",
                {"--socket", socket, "infer", "mlp", "--input",
                 "x=" + (daemon.folder() / "in0.npy").string(), "--out", out.string()}),
            0);
  const auto answer = read_npy(out / "y.npy");
  EXPECT_EQ(answer.shape, (std::vector<std::int64_t>{3, 256}));
  EXPECT_EQ(answer.data, expected);
  EXPECT_EQ(run(bin_dir() / "infervisorctl",
                {"--socket", socket, "infer", "mlp", "--json", "--input",
                 "x=" + (daemon.folder() / "in0.npy").string(), "--out", out.string()}),
            0);
  EXPECT_EQ(read_npy(out / "y.npy").data, expected);
  EXPECT_EQ(run(bin_dir() / "infervisorctl", {"--socket", socket, "infer", "nosuch", "--input",
                                              "x=" + (daemon.folder() / "in0.npy").string()}),
            1);
}

// Stands in for systemd: a datagram socket in NOTIFY_SOCKET, read all along by a thread (as
// systemd does: sd_notify blocks on a full socket queue), collecting what the daemon says.
class NotifySocket {
 public:
  explicit NotifySocket(const std::filesystem::path& path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    reader_ = std::thread([this] {
      while (!stop_) {
        pollfd entry{fd_, POLLIN, 0};
        if (::poll(&entry, 1, 20) != 1) continue;
        char buffer[4096];
        const auto n = ::recv(fd_, buffer, sizeof(buffer), 0);
        if (n <= 0) continue;
        const std::lock_guard lock(mutex_);
        received_.append(buffer, static_cast<std::size_t>(n)).push_back('\n');
      }
    });
  }
  ~NotifySocket() {
    stop_ = true;
    reader_.join();
    ::close(fd_);
  }

  // Everything received so far, and forgets it.
  std::string take() {
    const std::lock_guard lock(mutex_);
    return std::exchange(received_, {});
  }

 private:
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::string received_;
  std::thread reader_;
};

TEST(Daemon_test, TellsSystemdWhenReadyWhatItIsDoingAndWhenItStops) {
  RunningDaemon daemon(model_entry("mlp", "mlp.pt", "    instances: {count: 2}\n"));
  NotifySocket systemd(daemon.folder() / "notify.sock");
  ::setenv("NOTIFY_SOCKET", (daemon.folder() / "notify.sock").c_str(), 1);
  ::setenv("WATCHDOG_USEC", "200000", 1);
  daemon.start();
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  std::this_thread::sleep_for(300ms);
  const auto running = systemd.take();
  EXPECT_NE(running.find("READY=1"), std::string::npos) << running;
  EXPECT_NE(running.find("STATUS=mlp: 2/2 workers ready"), std::string::npos) << running;
  EXPECT_NE(running.find("WATCHDOG=1"), std::string::npos) << running;  // every 100 ms here
  daemon.stop();
  std::this_thread::sleep_for(100ms);
  const auto stopping = systemd.take();
  EXPECT_NE(stopping.find("STOPPING=1"), std::string::npos) << stopping;
}

TEST(Daemon_test, ServesTcpWhenAsked) {
  const auto port = free_loopback_port();
  RunningDaemon daemon(model_entry("mlp", "mlp.pt", ""), fmt::format("tcp: 127.0.0.1:{}\n", port));
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  client::ClientOptions options;
  options.endpoint = client::TcpEndpoint{"127.0.0.1", port};
  client::Client over_tcp(options);
  EXPECT_TRUE(over_tcp.server_ready());
  const auto result = over_tcp.infer(request_for("mlp", random_tensor(2, 3)));
  ASSERT_EQ(result.outputs.size(), 1u);
  EXPECT_EQ(result.outputs[0].shape, (std::vector<std::int64_t>{2, 256}));
  EXPECT_EQ(daemon.stop().exit_code(), 0);
}

TEST(Daemon_test, AfterASigkillTheWorkersDieAndTheNextDaemonReclaimsTheSegments) {
  RunningDaemon daemon(model_entry("mlp", "mlp.pt", "    instances: {count: 2}\n"));
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const auto workers = daemon.worker_pids();
  ASSERT_EQ(workers.size(), 2u);
  EXPECT_TRUE(daemon.kill_hard().killed_by(SIGKILL));
  // PR_SET_PDEATHSIG: the workers follow their daemon.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  auto any_alive = [&] {
    return std::any_of(workers.begin(), workers.end(),
                       [](pid_t pid) { return ::kill(pid, 0) == 0; });
  };
  while (any_alive() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(any_alive());
  const auto orphaned = daemon.leftover_segments();
  EXPECT_EQ(orphaned.size(), 2u);  // nobody could unlink them

  daemon.start();  // the same config, as systemd's Restart= would
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  for (const auto& name : orphaned) {
    EXPECT_NE(daemon.log().find("removed shared-memory segment " + name), std::string::npos)
        << daemon.log();
  }
  const auto now = daemon.leftover_segments();
  EXPECT_EQ(now.size(), 2u);  // the new daemon's own
  for (const auto& name : orphaned)
    EXPECT_EQ(std::count(now.begin(), now.end(), name), 0);
  EXPECT_TRUE(daemon.stop().success());
  EXPECT_TRUE(daemon.leftover_segments().empty());
}

}  // namespace
}  // namespace infervisor::testing
