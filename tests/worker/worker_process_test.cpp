// Drives the real infervisor-worker through a real channel, as the supervisor does: this test
// creates the segment, spawns the worker, waits for READY and exchanges records with it.
// Reference outputs come from infervisor-reference; neither binary is linked in here.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/child_process.hpp"
#include "common/npy.hpp"
#include "common/unique_fd.hpp"
#include "tests/common/temp_dir.hpp"
#include "tests/ops/test_ops.hpp"
#include "tests/worker/test_channel.hpp"

namespace infervisor::worker::testing {
namespace {

using namespace std::chrono_literals;
using shm::JobErrorKind;
using shm::RecordType;

constexpr std::string_view kPrefix = "ivt-worker";
constexpr std::uint64_t kGeneration = 7;
// Loading libtorch and a model can take seconds on a loaded 2-core CI machine.
constexpr auto kStartTimeout = 60s;
constexpr auto kReplyTimeout = 30s;

std::string model_file(std::string_view kind) {
  return std::string(INFERVISOR_MODELS_DIR) + "/" + std::string(kind) + ".pt";
}

std::vector<std::string> leftover_segments() {
  const std::string start = std::string(kPrefix) + "." + std::to_string(::getpid()) + ".";
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(start)) names.push_back(name);
  }
  return names;
}

// Checked in the destructor of a base class, so after the fixture's channel and worker are gone.
class NoLeftoverSegments : public ::testing::Test {
 protected:
  ~NoLeftoverSegments() override {
    EXPECT_TRUE(leftover_segments().empty()) << "segment left in /dev/shm";
  }
};

struct WorkerConfig {
  std::string model_name = "m";
  std::string model_kind = "identity";
  std::string model_path{};  // default: the model_kind's file
  std::vector<std::string> inputs{"x:float32:-1"};
  std::vector<std::string> outputs{"y:float32:-1"};
  pid_t supervisor_pid = ::getpid();
  std::uint64_t generation = kGeneration;
  std::vector<std::string> libraries{};
};

class WorkerProcessTest : public NoLeftoverSegments {
 protected:
  explicit WorkerProcessTest(const shm::SegmentLayout& layout = {1 << 20, 1 << 20})
      : channel_(kPrefix, kGeneration, layout) {}

  void start(const WorkerConfig& config) {
    config_ = config;
    std::vector<std::string> args{
        "--segment",
        channel_.segment_name(),
        "--generation",
        std::to_string(config.generation),
        "--supervisor-pid",
        std::to_string(config.supervisor_pid),
        "--wakeup-fd",
        "-1",
        "--model-name",
        config.model_name,
        "--model-path",
        config.model_path.empty() ? model_file(config.model_kind) : config.model_path,
        "--device",
        "cpu",
        "--threads",
        "1",
        "--instance",
        "0",
        "--log-level",
        "info"};
    for (const auto& spec : config.inputs)
      args.insert(args.end(), {"--input", spec});
    for (const auto& spec : config.outputs)
      args.insert(args.end(), {"--output", spec});
    for (const auto& library : config.libraries)
      args.insert(args.end(), {"--library", library});
    // Its standard error goes to a file the test can read (log()).
    const UniqueFd log(::open(log_file().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    SpawnOptions options;
    options.stderr_fd = log.get();
    worker_.emplace(ChildProcess::spawn(INFERVISOR_WORKER_BIN, args, options));
  }

  std::filesystem::path log_file() const { return log_dir_ / "worker.log"; }
  std::string log() const {
    std::ostringstream text;
    text << std::ifstream(log_file()).rdbuf();
    return text.str();
  }

  // Waits until the worker's standard error holds `text`; false if the worker exits first or
  // `timeout` (a guard, not a synchronization) passes.
  bool wait_for_log(std::string_view text, std::chrono::milliseconds timeout = kReplyTimeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (log().find(text) != std::string::npos) return true;
      if (worker_->try_reap()) return log().find(text) != std::string::npos;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  // The next record from the worker; fails the test if none comes or the worker exits first.
  Received receive(std::chrono::milliseconds timeout = kReplyTimeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (auto record = channel_.receive(100ms)) return std::move(*record);
      if (const auto status = worker_->try_reap()) {
        // It may have committed a record just before exiting.
        if (auto record = channel_.receive(0ms)) return std::move(*record);
        ADD_FAILURE() << "the worker " << status->describe() << " without answering; its log:\n"
                      << log();
        return {};
      }
    }
    ADD_FAILURE() << "no record from the worker within " << timeout.count() << " ms; its log:\n"
                  << log();
    return {};
  }

  void start_ready(const WorkerConfig& config) {
    start(config);
    const Received ready = receive(kStartTimeout);
    ASSERT_EQ(ready.type, RecordType::kReady) << ready.error_message();
    EXPECT_EQ(ready.job_id, 0u);
    EXPECT_NE(ready.text().find("device cpu"), std::string::npos) << ready.text();
  }

  Received call(std::uint64_t job_id, const std::vector<HostTensor>& tensors,
                const std::vector<std::string_view>& output_names = {}) {
    channel_.send_request(job_id, config_.model_name, tensors, output_names);
    Received reply = receive();
    EXPECT_EQ(reply.job_id, job_id);
    return reply;
  }

  int exit_status(std::chrono::milliseconds timeout = kReplyTimeout) {
    const auto status = worker_->wait_for(timeout);
    if (!status) {
      ADD_FAILURE() << "the worker did not exit";
      return -1;
    }
    EXPECT_TRUE(status->exited()) << status->describe();
    return status->exited() ? status->exit_code() : -1;
  }

  infervisor::testing::TempDir log_dir_;
  TestChannel channel_;
  WorkerConfig config_;
  std::optional<ChildProcess> worker_;
};

HostTensor floats(std::string name, std::vector<std::int64_t> shape, std::vector<float> values) {
  return make_tensor(std::move(name), DType::kFloat32, std::move(shape), values);
}

// ---------------------------------------------------------------------------------------------
TEST_F(WorkerProcessTest, MlpMatchesTheInProcessReference) {
  start_ready({.model_name = "mlp",
               .model_kind = "mlp",
               .inputs = {"x:float32:-1,256"},
               .outputs = {"y:float32:-1,256"}});
  std::vector<float> input(3 * 256);
  for (std::size_t i = 0; i < input.size(); ++i)
    input[i] = std::sin(0.37f * static_cast<float>(i));
  const Received reply = call(1, {floats("x", {3, 256}, input)});
  const auto outputs = reply.tensors();
  ASSERT_EQ(outputs.size(), 1u);
  // The worker timed its stages: a forward of a 256x256 MLP takes well over a nanosecond.
  const auto stages = reply.stages();
  EXPECT_GT(stages.forward_ns, 0u);
  EXPECT_LT(stages.input_copy_ns + stages.forward_ns + stages.output_copy_ns, 60'000'000'000u);
  EXPECT_EQ(outputs[0].name, "y");
  EXPECT_EQ(outputs[0].dtype, DType::kFloat32);
  EXPECT_EQ(outputs[0].shape, (std::vector<std::int64_t>{3, 256}));

  infervisor::testing::TempDir dir;
  const std::vector<std::int64_t> shape{3, 256};
  write_npy(dir / "x.npy", DType::kFloat32, shape, std::as_bytes(std::span(input)));
  auto reference =
      ChildProcess::spawn(INFERVISOR_REFERENCE_BIN,
                          {"--model", model_file("mlp"), "--input", "x=" + (dir / "x.npy").string(),
                           "--output", "y:float32:-1,256", "--out", (dir / "out").string()});
  const auto status = reference.wait_for(kStartTimeout);
  ASSERT_TRUE(status && status->success()) << (status ? status->describe() : "still running");
  const NpyArray expected = read_npy(dir / "out" / "y.npy");
  ASSERT_EQ(expected.shape, shape);
  const auto got = outputs[0].values<float>();
  std::vector<float> want(got.size());
  ASSERT_EQ(expected.data.size(), want.size() * sizeof(float));
  std::memcpy(want.data(), expected.data.data(), expected.data.size());
  float largest = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    // Same libtorch, same thread count; only the input's alignment differs, which BLAS kernels
    // may round by.
    ASSERT_NEAR(got[i], want[i], 1e-5f * (1.0f + std::abs(want[i]))) << "element " << i;
    largest = std::max(largest, std::abs(want[i]));
  }
  EXPECT_GT(largest, 0.0f) << "the reference output is all zeros: the test proves nothing";
}

TEST_F(WorkerProcessTest, AnswersQueuedRequestsInOrder) {
  start_ready({});
  for (std::uint64_t job = 1; job <= 5; ++job) {
    channel_.send_request(job, config_.model_name,
                          {floats("x", {2}, {static_cast<float>(job), -1.0f})});
  }
  for (std::uint64_t job = 1; job <= 5; ++job) {
    const Received reply = receive();
    ASSERT_EQ(reply.job_id, job);
    const auto outputs = reply.tensors();
    ASSERT_EQ(outputs.size(), 1u);
    EXPECT_EQ(outputs[0].values<float>(), (std::vector<float>{static_cast<float>(job), -1.0f}));
  }
}

class IdentityDTypeTest : public WorkerProcessTest, public ::testing::WithParamInterface<DType> {};

TEST_P(IdentityDTypeTest, CarriesTheBytesUnchanged) {
  const DType dtype = GetParam();
  const std::string name(dtype_name(dtype));
  start_ready({.inputs = {"x:" + name + ":-1,3"}, .outputs = {"y:" + name + ":-1,3"}});
  std::mt19937 random(42);
  HostTensor input{"x", dtype, {5, 3}, std::vector<std::byte>(15 * dtype_size(dtype))};
  for (auto& byte : input.data) {
    // Bool bytes must be 0 or 1; any bit pattern is a valid value of the other dtypes.
    byte = static_cast<std::byte>(dtype == DType::kBool ? random() % 2 : random() % 256);
  }
  const auto outputs = call(1, {input}).tensors();
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].name, "y");
  EXPECT_EQ(outputs[0].dtype, dtype);
  EXPECT_EQ(outputs[0].shape, input.shape);
  EXPECT_EQ(outputs[0].data, input.data);

  // An empty batch is a valid tensor too.
  const auto empty = call(2, {HostTensor{"x", dtype, {0, 3}, {}}}).tensors();
  ASSERT_EQ(empty.size(), 1u);
  EXPECT_EQ(empty[0].shape, (std::vector<std::int64_t>{0, 3}));
}

INSTANTIATE_TEST_SUITE_P(AllDTypes, IdentityDTypeTest, ::testing::ValuesIn(kAllDTypes),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST_F(WorkerProcessTest, TupleOutputsFollowTheSpecOrder) {
  start_ready({.model_kind = "tuple", .outputs = {"twice:float32:-1", "plus_one:float32:-1"}});
  const auto outputs = call(1, {floats("x", {3}, {1, 2, 3})}).tensors();
  ASSERT_EQ(outputs.size(), 2u);
  EXPECT_EQ(outputs[0].name, "twice");
  EXPECT_EQ(outputs[0].values<float>(), (std::vector<float>{2, 4, 6}));
  EXPECT_EQ(outputs[1].name, "plus_one");
  EXPECT_EQ(outputs[1].values<float>(), (std::vector<float>{2, 3, 4}));
}

TEST_F(WorkerProcessTest, DictOutputsAreMatchedByName) {
  // The spec order differs from the model's insertion order on purpose.
  start_ready({.model_kind = "dict", .outputs = {"plus_one:float32:-1", "twice:float32:-1"}});
  const auto outputs = call(1, {floats("x", {2}, {5, 7})}).tensors();
  ASSERT_EQ(outputs.size(), 2u);
  EXPECT_EQ(outputs[0].name, "plus_one");
  EXPECT_EQ(outputs[0].values<float>(), (std::vector<float>{6, 8}));
  EXPECT_EQ(outputs[1].name, "twice");
  EXPECT_EQ(outputs[1].values<float>(), (std::vector<float>{10, 14}));
}

TEST_F(WorkerProcessTest, ReturnsOnlyTheRequestedOutputs) {
  start_ready({.model_kind = "tuple", .outputs = {"twice:float32:-1", "plus_one:float32:-1"}});
  const auto outputs = call(1, {floats("x", {2}, {1, 2})}, {"plus_one"}).tensors();
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].name, "plus_one");
  EXPECT_EQ(outputs[0].values<float>(), (std::vector<float>{2, 3}));

  const Received unknown = call(2, {floats("x", {2}, {1, 2})}, {"twice", "thrice"});
  EXPECT_EQ(unknown.error_kind(), JobErrorKind::kBadInput);
  EXPECT_NE(unknown.error_message().find("'thrice'"), std::string::npos) << unknown.error_message();
}

TEST_F(WorkerProcessTest, AModelExceptionFailsOnlyItsJob) {
  start_ready({.model_kind = "faulty"});
  const Received failed = call(1, {floats("x", {2}, {-1, 4})});
  EXPECT_EQ(failed.error_kind(), JobErrorKind::kModel);
  EXPECT_NE(failed.error_message().find("first input element is negative"), std::string::npos)
      << failed.error_message();
  EXPECT_LE(failed.error_message().size(), shm::kMaxErrorMessageBytes);

  const auto outputs = call(2, {floats("x", {2}, {1, 4})}).tensors();
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].values<float>(), (std::vector<float>{3, 12}));
}

TEST_F(WorkerProcessTest, BadRequestsGetBadInputAndTheWorkerLivesOn) {
  start_ready({.inputs = {"x:float32:-1,2"}, .outputs = {"y:float32:-1,2"}});
  struct Case {
    std::string_view model;
    std::vector<HostTensor> tensors;
    std::string_view expected;
  };
  const std::vector<Case> cases{
      {"m", {make_tensor<double>("x", DType::kFloat64, {1, 2}, {1, 2})}, "dtype float64"},
      {"m", {floats("x", {1, 3}, {1, 2, 3})}, "shape [1, 3]"},
      {"m", {}, "input 'x' is missing"},
      {"m", {floats("x", {1, 2}, {1, 2}), floats("z", {1}, {1})}, "input 'z' is not an input"},
      {"other", {floats("x", {1, 2}, {1, 2})}, "for model 'other'"},
  };
  std::uint64_t job = 1;
  for (const auto& test : cases) {
    channel_.send_request(job, test.model, test.tensors);
    const Received reply = receive();
    EXPECT_EQ(reply.job_id, job);
    EXPECT_EQ(reply.error_kind(), JobErrorKind::kBadInput) << test.expected;
    EXPECT_NE(reply.error_message().find(test.expected), std::string::npos)
        << reply.error_message();
    ++job;
  }
  std::vector<std::byte> garbage(200, std::byte{0x5a});
  channel_.send_record(RecordType::kRequest, job, garbage);
  const Received malformed = receive();
  EXPECT_EQ(malformed.job_id, job);
  EXPECT_EQ(malformed.error_kind(), JobErrorKind::kBadInput);
  EXPECT_NE(malformed.error_message().find("malformed request frame"), std::string::npos)
      << malformed.error_message();

  const auto outputs = call(++job, {floats("x", {1, 2}, {8, 9})}).tensors();
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].values<float>(), (std::vector<float>{8, 9}));
}

TEST_F(WorkerProcessTest, AnUnexpectedRecordTypeIsAnInternalError) {
  start_ready({});
  channel_.send_record(RecordType::kReady, 41, {});
  const Received reply = receive();
  EXPECT_EQ(reply.job_id, 41u);
  EXPECT_EQ(reply.error_kind(), JobErrorKind::kInternal);
  EXPECT_NE(reply.error_message().find("READY"), std::string::npos) << reply.error_message();
  EXPECT_EQ(call(42, {floats("x", {1}, {1})}).type, RecordType::kResponse);
}

class SmallResponseRingTest : public WorkerProcessTest {
 protected:
  SmallResponseRingTest() : WorkerProcessTest({1 << 20, shm::kMinRingBytes}) {}
};

TEST_F(SmallResponseRingTest, OutputsLargerThanTheRingAreTooLarge) {
  start_ready({});
  const std::vector<float> big(32 * 1024);  // 128 KiB in, and so out: the ring holds 64 KiB
  const Received reply = call(1, {floats("x", {static_cast<std::int64_t>(big.size())}, big)});
  EXPECT_EQ(reply.error_kind(), JobErrorKind::kTooLarge);
  EXPECT_NE(reply.error_message().find(std::to_string(shm::kMinRingBytes - 64) + " bytes"),
            std::string::npos)
      << reply.error_message();
  EXPECT_EQ(call(2, {floats("x", {1}, {1})}).type, RecordType::kResponse);
}

TEST_F(SmallResponseRingTest, AFullResponseRingDelaysAnswersWithoutLosingThem) {
  start_ready({});
  // Eight 16 KiB answers are twice what the response ring holds: the worker must wait for the
  // supervisor to read, then go on.
  constexpr std::uint64_t kJobs = 8;
  for (std::uint64_t job = 1; job <= kJobs; ++job) {
    channel_.send_request(job, config_.model_name,
                          {floats("x", {4096}, std::vector<float>(4096, static_cast<float>(job)))});
  }
  // Read nothing until the worker has filled the ring and parked on it, waiting for room: what
  // this test is about is that the supervisor's reads wake it.
  auto& room = channel_.raw().segment.response_ring().control->space_ready;
  const auto guard = std::chrono::steady_clock::now() + kReplyTimeout;
  while (shm::shared(room.parked).load() == 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), guard) << "the worker never waited for room";
    ASSERT_FALSE(worker_->try_reap()) << "the worker exited; its log:\n" << log();
    std::this_thread::sleep_for(1ms);
  }
  for (std::uint64_t job = 1; job <= kJobs; ++job) {
    const Received reply = receive();
    ASSERT_EQ(reply.job_id, job);
    const auto outputs = reply.tensors();
    ASSERT_EQ(outputs.size(), 1u);
    EXPECT_EQ(outputs[0].values<float>(), std::vector<float>(4096, static_cast<float>(job)));
  }
  EXPECT_GT(channel_.raw().responses.wakeups(), 0u) << "no read rang the parked worker's doorbell";
}

TEST_F(WorkerProcessTest, ShutdownIsAcknowledgedAfterEarlierRequests) {
  start_ready({});
  channel_.send_request(1, config_.model_name, {floats("x", {1}, {3})});
  channel_.send_record(RecordType::kShutdown, 2, {});
  const Received reply = receive();
  EXPECT_EQ(reply.job_id, 1u);
  EXPECT_EQ(reply.type, RecordType::kResponse);
  const Received ack = receive();
  EXPECT_EQ(ack.type, RecordType::kShutdownAck);
  EXPECT_EQ(exit_status(), 0);
}

TEST_F(WorkerProcessTest, AMissingModelFileIsAStartupError) {
  start({.model_path = "/nonexistent/model.pt"});
  const Received error = receive(kStartTimeout);
  EXPECT_EQ(error.job_id, 0u);
  EXPECT_EQ(error.error_kind(), JobErrorKind::kStartup);
  EXPECT_NE(error.error_message().find("/nonexistent/model.pt"), std::string::npos)
      << error.error_message();
  EXPECT_EQ(exit_status(), 3);
}

TEST_F(WorkerProcessTest, AnOutputSpecTheModelDoesNotMatchIsAStartupError) {
  start({.model_kind = "mlp", .inputs = {"x:float32:-1,256"}, .outputs = {"y:float64:-1,256"}});
  const Received error = receive(kStartTimeout);
  EXPECT_EQ(error.error_kind(), JobErrorKind::kStartup);
  EXPECT_NE(error.error_message().find("output 'y' has dtype float32 but the config says float64"),
            std::string::npos)
      << error.error_message();
  EXPECT_EQ(exit_status(), 3);
}

TEST_F(WorkerProcessTest, AnInputSpecTheModelRejectsIsAStartupError) {
  start({.model_kind = "mlp", .inputs = {"x:float32:-1,255"}, .outputs = {"y:float32:-1,256"}});
  const Received error = receive(kStartTimeout);
  EXPECT_EQ(error.error_kind(), JobErrorKind::kStartup);
  EXPECT_NE(error.error_message().find("warm-up"), std::string::npos) << error.error_message();
  EXPECT_EQ(exit_status(), 3);
}

TEST_F(WorkerProcessTest, ABadModelOptionIsReportedThroughTheRing) {
  start({.inputs = {"x:float99:-1"}});
  const Received error = receive(kStartTimeout);
  EXPECT_EQ(error.error_kind(), JobErrorKind::kStartup);
  EXPECT_NE(error.error_message().find("float99"), std::string::npos) << error.error_message();
  EXPECT_EQ(exit_status(), 3);
}

TEST_F(WorkerProcessTest, AForeignGenerationExitsWithoutOpeningTheChannel) {
  start({.generation = kGeneration + 1});
  EXPECT_EQ(exit_status(kStartTimeout), 2);
}

TEST_F(WorkerProcessTest, ExitsWhenItsParentIsNotTheSupervisor) {
  start({.supervisor_pid = 1});
  EXPECT_EQ(exit_status(kStartTimeout), 1);
}

TEST_F(WorkerProcessTest, ACorruptRequestRingEndsTheWorker) {
  start_ready({});
  // A committed record that claims more bytes than the ring holds: only a broken supervisor
  // writes it.
  auto& requests = channel_.raw().requests;
  auto reservation = requests.try_reserve(shm::RecordType::kRequest, 1, 64).value().value();
  auto* header =
      reinterpret_cast<shm::RecordHeader*>(reservation.payload.data() - sizeof(shm::RecordHeader));
  header->record_bytes = std::uint64_t{1} << 40;
  requests.commit(reservation);
  EXPECT_EQ(exit_status(), 4);
}

// ---------------------------------------------------------------------------------------------
// Custom operator libraries (--library), and the test library's ops (tests/ops/test_ops.hpp).

WorkerConfig op_model(std::string kind) {
  return {.model_kind = std::move(kind),
          .inputs = {"x:float32:-1,4"},
          .outputs = {"y:float32:-1,4"},
          .libraries = {INFERVISOR_TEST_OPS_LIBRARY}};
}

const std::vector<float> kPlainInput{1, 2, 3, 4, -1, 0, 0.5f, 100};
const std::vector<float> kPlainOutput{3, 5, 7, 9, -1, 1, 2, 201};  // 2 * x + 1, exact

// Anonymous resident memory of a process (RssAnon in /proc/PID/status), in KiB.
std::int64_t rss_anon_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("RssAnon:")) return std::stoll(line.substr(8));
  }
  ADD_FAILURE() << "no RssAnon in /proc/" << pid << "/status";
  return 0;
}

TEST_F(WorkerProcessTest, AModelWithCustomOpsRunsWithItsLibrary) {
  start_ready(op_model("poison"));
  const auto outputs = call(1, {floats("x", {2, 4}, kPlainInput)}).tensors();
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].values<float>(), kPlainOutput);
}

TEST_F(WorkerProcessTest, WithoutItsLibraryAModelWithCustomOpsIsAStartupErrorNamingTheOp) {
  WorkerConfig config = op_model("poison");
  config.libraries.clear();
  start(config);
  const Received error = receive(kStartTimeout);
  EXPECT_EQ(error.error_kind(), JobErrorKind::kStartup);
  EXPECT_NE(error.error_message().find("infervisor_test::poison"), std::string::npos)
      << error.error_message();
  EXPECT_EQ(exit_status(), 3);
}

TEST_F(WorkerProcessTest, ALibraryThatDoesNotExistIsAStartupErrorNamingIt) {
  WorkerConfig config = op_model("poison");
  config.libraries.insert(config.libraries.begin(), "/nonexistent/libnope.so");
  start(config);
  const Received error = receive(kStartTimeout);
  EXPECT_EQ(error.error_kind(), JobErrorKind::kStartup);
  // The file, then dlerror()'s reason.
  EXPECT_NE(error.error_message().find("cannot load the operator library /nonexistent/libnope.so: "
                                       "/nonexistent/libnope.so: cannot open shared object file"),
            std::string::npos)
      << error.error_message();
  EXPECT_EQ(exit_status(), 3);
}

TEST_F(WorkerProcessTest, ALibraryThatIsNotASharedObjectIsAStartupErrorNamingIt) {
  WorkerConfig config = op_model("poison");
  config.libraries = {model_file("identity")};
  start(config);
  const Received error = receive(kStartTimeout);
  EXPECT_EQ(error.error_kind(), JobErrorKind::kStartup);
  EXPECT_NE(error.error_message().find("cannot load the operator library " +
                                       model_file("identity") + ": "),
            std::string::npos)
      << error.error_message();
  EXPECT_EQ(exit_status(), 3);
}

class PoisonOpTest : public WorkerProcessTest,
                     public ::testing::WithParamInterface<std::pair<float, int>> {};

TEST_P(PoisonOpTest, KillsItsWorkerWithoutAnAnswer) {
  const auto [magic, signal_number] = GetParam();
  start_ready(op_model("poison"));
  EXPECT_EQ(call(1, {floats("x", {2, 4}, kPlainInput)}).tensors().at(0).values<float>(),
            kPlainOutput);

  channel_.send_request(2, config_.model_name, {floats("x", {1, 4}, {1, 2, magic, 4})});
  const auto status = worker_->wait_for(kReplyTimeout);
  ASSERT_TRUE(status) << "the worker survived its poison; its log:\n" << log();
  EXPECT_TRUE(status->killed_by(signal_number)) << status->describe();
  EXPECT_FALSE(channel_.receive(0ms)) << "a dead worker answered";
  EXPECT_NE(log().find("infervisor_test::poison"), std::string::npos) << log();
}

INSTANTIATE_TEST_SUITE_P(KillOrAbort, PoisonOpTest,
                         ::testing::Values(std::pair{test_ops::kKillValue, SIGKILL},
                                           std::pair{test_ops::kAbortValue, SIGABRT}),
                         [](const auto& info) {
                           return std::string(info.param.second == SIGKILL ? "Sigkill" : "Abort");
                         });

TEST_F(WorkerProcessTest, TheHangOpNeverReturnsUntilTheWorkerIsKilled) {
  start_ready(op_model("hang"));
  EXPECT_EQ(call(1, {floats("x", {2, 4}, kPlainInput)}).tensors().at(0).values<float>(),
            kPlainOutput);

  channel_.send_request(2, config_.model_name,
                        {floats("x", {1, 4}, {1, 2, 3, test_ops::kHangValue})});
  channel_.send_request(3, config_.model_name, {floats("x", {2, 4}, kPlainInput)});
  // The op says when it has started to hang; from then on the worker can answer nothing.
  ASSERT_TRUE(wait_for_log("never returning")) << log();
  EXPECT_TRUE(worker_->running());
  EXPECT_FALSE(channel_.receive(0ms)) << "the hung worker answered";
  worker_->signal(SIGKILL);
  const auto status = worker_->wait_for(kReplyTimeout);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->killed_by(SIGKILL)) << status->describe();
}

TEST_F(WorkerProcessTest, TheLeakOpGrowsTheWorkersAnonymousMemoryByItsSizeEachCall) {
  start_ready(op_model("leak"));
  constexpr int kCalls = 4;
  const std::int64_t before = rss_anon_kib(worker_->pid());
  for (int job = 1; job <= kCalls; ++job) {
    EXPECT_EQ(call(job, {floats("x", {2, 4}, kPlainInput)}).tensors().at(0).values<float>(),
              kPlainOutput);
  }
  const std::int64_t grown = rss_anon_kib(worker_->pid()) - before;
  // Every leaked page is written, so all of it is resident; the rest of the worker may give a
  // little back meanwhile.
  EXPECT_GE(grown, kCalls * test_ops::kLeakMiB * 1024 * 15 / 16) << grown << " KiB";
}

}  // namespace
}  // namespace infervisor::worker::testing
