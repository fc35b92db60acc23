// infervisord against workers that misbehave (tests/integration/rogue_worker.cpp): whatever a
// worker writes into its ring or however it dies, the daemon answers every job and keeps serving.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstring>
#include <fstream>

#include "running_daemon.hpp"

namespace infervisor::testing {
namespace {

using namespace std::chrono_literals;

// A daemon whose one model is served by the rogue worker in `mode`.
class Rogue {
 public:
  explicit Rogue(const std::string& mode, const std::string& extra = "",
                 const std::string& model_extra = "")
      : model_file_(std::filesystem::temp_directory_path() /
                    fmt::format("rogue-{}-{}.txt", ::getpid(), mode)) {
    std::ofstream(model_file_) << mode << "\n";
    daemon_.emplace(
        "  - name: rogue\n    path: " + model_file_.string() +
            "\n    inputs: [{name: x, dtype: FP32, shape: [-1]}]\n"
            "    outputs: [{name: y, dtype: FP32, shape: [-1]}]\n" +
            model_extra,
        "worker_path: " + (bin_dir() / "infervisor_rogue_worker").string() + "\n" + extra);
    daemon_->start();
  }
  ~Rogue() {
    daemon_.reset();
    std::filesystem::remove(model_file_);
  }
  RunningDaemon& daemon() { return *daemon_; }

 private:
  std::filesystem::path model_file_;
  std::optional<RunningDaemon> daemon_;
};

client::InferRequest job(float value) {
  client::InferRequest request;
  request.model = "rogue";
  client::Tensor x{"x", DType::kFloat32, {1}, std::vector<std::byte>(4)};
  std::memcpy(x.data.data(), &value, 4);
  request.inputs.push_back(std::move(x));
  return request;
}

std::pair<unsigned, std::string> outcome(client::Client& client,
                                         const client::InferRequest& request) {
  try {
    client.infer(request);
    return {200, ""};
  } catch (const client::HttpError& error) {
    return {error.status(), error.server_message()};
  }
}

TEST(RogueWorker_test, AGarbageResponseFrameFailsThatJobOnly) {
  Rogue rogue("garbage-frame");
  ASSERT_TRUE(rogue.daemon().wait_ready()) << rogue.daemon().log();
  auto client = rogue.daemon().client();
  for (int i = 0; i < 20; ++i) {
    const auto [status, message] = outcome(client, job(1.0f));
    EXPECT_EQ(status, 500u);
    EXPECT_NE(message.find("corrupt"), std::string::npos) << message;
  }
  EXPECT_TRUE(client.server_live());
  EXPECT_EQ(rogue.daemon().stop().exit_code(), 0);
}

TEST(RogueWorker_test, ARequestFrameSentAsAnAnswerFailsThatJob) {
  Rogue rogue("request-kind");
  ASSERT_TRUE(rogue.daemon().wait_ready()) << rogue.daemon().log();
  auto client = rogue.daemon().client();
  const auto [status, message] = outcome(client, job(1.0f));
  EXPECT_EQ(status, 500u);
  EXPECT_NE(message.find("request frame"), std::string::npos) << message;
  EXPECT_EQ(rogue.daemon().stop().exit_code(), 0);
}

TEST(RogueWorker_test, AnswersForJobsNeverSentAreDropped) {
  Rogue rogue("wrong-job");
  ASSERT_TRUE(rogue.daemon().wait_ready()) << rogue.daemon().log();
  auto client = rogue.daemon().client();
  const auto result = client.infer(job(2.5f));
  ASSERT_EQ(result.outputs.size(), 1u);
  float y = 0;
  std::memcpy(&y, result.outputs[0].data.data(), 4);
  EXPECT_EQ(y, 2.5f);
  EXPECT_NE(rogue.daemon().log().find("not in flight"), std::string::npos);
}

TEST(RogueWorker_test, ACorruptRecordHeaderGetsTheWorkerKilledAndReplaced) {
  Rogue rogue("corrupt-header");
  ASSERT_TRUE(rogue.daemon().wait_ready()) << rogue.daemon().log();
  const auto first = rogue.daemon().worker_pids();
  auto client = rogue.daemon().client();
  const auto [status, message] = outcome(client, job(1.0f));
  EXPECT_EQ(status, 500u);
  EXPECT_NE(message.find("corrupt"), std::string::npos) << message;
  // The replacement comes up (and will misbehave the same way, but it is a new process).
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline &&
         (!client.model_ready("rogue") || rogue.daemon().worker_pids() == first)) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_NE(rogue.daemon().worker_pids(), first);
  EXPECT_TRUE(client.model_ready("rogue"));
}

TEST(RogueWorker_test, AWorkerThatNeverReportsReadyFailsStartUp) {
  Rogue rogue("never-ready", "startup_timeout: 1s\n");
  const auto status = rogue.daemon().wait_exit(30s);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->exit_code(), 1);
  EXPECT_NE(rogue.daemon().log().find("did not report READY within 1000 ms"), std::string::npos)
      << rogue.daemon().log();
  EXPECT_TRUE(rogue.daemon().leftover_segments().empty());
}

TEST(RogueWorker_test, AWorkerThatExitsBeforeReadyFailsStartUp) {
  Rogue rogue("exit-early");
  const auto status = rogue.daemon().wait_exit(30s);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->exit_code(), 1);
  EXPECT_NE(rogue.daemon().log().find("exited with status 7"), std::string::npos)
      << rogue.daemon().log();
}

client::InferRequest job_of(std::size_t elements) {
  client::InferRequest request;
  request.model = "rogue";
  request.inputs.push_back({"x",
                            DType::kFloat32,
                            {static_cast<std::int64_t>(elements)},
                            std::vector<std::byte>(elements * sizeof(float))});
  return request;
}

TEST(RogueWorker_test, AJobThatMustWaitForTheRingToWrapIsServedOnAnIdleWorker) {
  // In a 1 MiB ring, a 700 KB job after a 600 KB one fits neither behind it nor, until the worker
  // has read past the wrap, in front of it: the worker is idle, so no answer will say when.
  Rogue rogue("echo", "", "    ring_size: 1MiB\n");
  ASSERT_TRUE(rogue.daemon().wait_ready()) << rogue.daemon().log();
  auto client = rogue.daemon().client(std::chrono::seconds(20));
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(outcome(client, job_of(150'000)).first, 200u);
    EXPECT_EQ(outcome(client, job_of(175'000)).first, 200u);
  }
  EXPECT_EQ(rogue.daemon().stop().exit_code(), 0);
}

TEST(RogueWorker_test, AWellBehavedForeignWorkerIsServed) {
  Rogue rogue("echo");
  ASSERT_TRUE(rogue.daemon().wait_ready()) << rogue.daemon().log();
  auto client = rogue.daemon().client();
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(outcome(client, job(static_cast<float>(i))).first, 200u);
  EXPECT_EQ(rogue.daemon().stop().exit_code(), 0);
}

}  // namespace
}  // namespace infervisor::testing
