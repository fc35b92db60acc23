// Drives the real infervisor-worker through a real channel, as the supervisor does: this test
// creates the segment, spawns the worker, waits for READY and exchanges records with it.
// Reference outputs come from infervisor-reference; neither binary is linked in here.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/child_process.hpp"
#include "common/npy.hpp"
#include "tests/common/temp_dir.hpp"
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
    worker_.emplace(ChildProcess::spawn(INFERVISOR_WORKER_BIN, args));
  }

  // The next record from the worker; fails the test if none comes or the worker exits first.
  Received receive(std::chrono::milliseconds timeout = kReplyTimeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (auto record = channel_.receive(100ms)) return std::move(*record);
      if (const auto status = worker_->try_reap()) {
        // It may have committed a record just before exiting.
        if (auto record = channel_.receive(0ms)) return std::move(*record);
        ADD_FAILURE() << "the worker " << status->describe() << " without answering";
        return {};
      }
    }
    ADD_FAILURE() << "no record from the worker within " << timeout.count() << " ms";
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
  std::this_thread::sleep_for(200ms);  // let the worker fill the ring and park
  for (std::uint64_t job = 1; job <= kJobs; ++job) {
    const Received reply = receive();
    ASSERT_EQ(reply.job_id, job);
    const auto outputs = reply.tensors();
    ASSERT_EQ(outputs.size(), 1u);
    EXPECT_EQ(outputs[0].values<float>(), std::vector<float>(4096, static_cast<float>(job)));
  }
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

}  // namespace
}  // namespace infervisor::worker::testing
