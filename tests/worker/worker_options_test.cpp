#include "worker/worker_options.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace infervisor::worker {
namespace {

// Owns the words, hands out argv-style pointers.
class Args {
 public:
  Args(std::initializer_list<std::string> words) : words_(words) {
    for (auto& word : words_)
      pointers_.push_back(word.data());
  }
  std::span<char* const> span() const { return pointers_; }

 private:
  std::vector<std::string> words_;
  std::vector<char*> pointers_;
};

bool mentions(const std::vector<std::string>& problems, std::string_view text) {
  for (const auto& problem : problems) {
    if (problem.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(WorkerOptions, ParsesTheFullCommandLine) {
  const Args args{"--segment",         "seg.1.abc",
                  "--generation",      "7",
                  "--supervisor-pid",  "4242",
                  "--wakeup-fd",       "5",
                  "--model-name",      "mlp",
                  "--model-path",      "/m/mlp.pt",
                  "--device",          "cpu",
                  "--threads",         "2",
                  "--interop-threads", "3",
                  "--input",           "x:float32:-1,256",
                  "--output",          "y:float32:-1,256",
                  "--output",          "z:int64:",
                  "--spin-us",         "0",
                  "--log-level",       "warning",
                  "--instance",        "3",
                  "--library",         "/ops/libb.so",
                  "--library",         "/ops/liba.so"};
  const WorkerOptions sut = parse_worker_options(args.span());
  EXPECT_TRUE(sut.channel_problems.empty()) << sut.channel_problems.front();
  EXPECT_TRUE(sut.model_problems.empty()) << sut.model_problems.front();
  EXPECT_EQ(sut.channel.segment, "seg.1.abc");
  EXPECT_EQ(sut.channel.generation, 7u);
  EXPECT_EQ(sut.channel.supervisor_pid, 4242);
  EXPECT_EQ(sut.channel.wakeup_fd, 5);
  EXPECT_EQ(sut.channel.spin, std::chrono::microseconds(0));
  EXPECT_EQ(sut.channel.log_level, spdlog::level::warn);
  EXPECT_EQ(sut.channel.instance, 3);
  EXPECT_EQ(sut.model.name, "mlp");
  EXPECT_EQ(sut.model.path, "/m/mlp.pt");
  EXPECT_EQ(sut.model.device, "cpu");
  EXPECT_EQ(sut.model.threads, 2);
  EXPECT_EQ(sut.model.interop_threads, 3);
  ASSERT_EQ(sut.model.inputs.size(), 1u);
  EXPECT_EQ(sut.model.inputs[0], parse_tensor_spec("x:float32:-1,256"));
  ASSERT_EQ(sut.model.outputs.size(), 2u);
  EXPECT_EQ(sut.model.outputs[1].name, "z");
  EXPECT_TRUE(sut.model.outputs[1].dims.empty());
  // In the order given: a library may need the symbols of one loaded before it.
  EXPECT_EQ(sut.model.libraries, (std::vector<std::string>{"/ops/libb.so", "/ops/liba.so"}));
}

TEST(WorkerOptions, LibrariesAreOptional) {
  const Args args{"--segment",        "s",           "--generation", "1",
                  "--supervisor-pid", "1",           "--wakeup-fd",  "-1",
                  "--model-name",     "m",           "--model-path", "/m.pt",
                  "--device",         "cpu",         "--threads",    "1",
                  "--input",          "x:float32:1", "--output",     "y:float32:1"};
  const WorkerOptions sut = parse_worker_options(args.span());
  EXPECT_TRUE(sut.model_problems.empty()) << sut.model_problems.front();
  EXPECT_TRUE(sut.model.libraries.empty());
}

TEST(WorkerOptions, AnEmptyLibraryIsAModelProblem) {
  const Args args{"--segment", "s",           "--generation", "1",         "--supervisor-pid",
                  "1",         "--wakeup-fd", "-1",           "--library", ""};
  const WorkerOptions sut = parse_worker_options(args.span());
  EXPECT_TRUE(sut.channel_problems.empty());
  EXPECT_TRUE(mentions(sut.model_problems, "--library needs a file name"));
}

TEST(WorkerOptions, MissingChannelFlagsAreChannelProblems) {
  const Args args{"--segment", "seg", "--model-name", "m"};
  const WorkerOptions sut = parse_worker_options(args.span());
  EXPECT_TRUE(mentions(sut.channel_problems, "--generation is required"));
  EXPECT_TRUE(mentions(sut.channel_problems, "--supervisor-pid is required"));
  EXPECT_TRUE(mentions(sut.channel_problems, "--wakeup-fd is required"));
  EXPECT_FALSE(mentions(sut.channel_problems, "--segment"));
}

TEST(WorkerOptions, ModelProblemsLeaveTheChannelUsable) {
  Args args{"--segment",         "seg.1.abc",
            "--generation",      "7",
            "--supervisor-pid",  "4242",
            "--wakeup-fd",       "-1",
            "--model-name",      "m",
            "--model-path",      "/m.pt",
            "--device",          "cpu",
            "--threads",         "0",
            "--input",           "x:float33:1",
            "--input",           "y:float32:1",
            "--input",           "y:float32:2",
            "--bogus",           "1",
            "--interop-threads", "0"};
  const WorkerOptions sut = parse_worker_options(args.span());
  EXPECT_TRUE(sut.channel_problems.empty());
  EXPECT_TRUE(mentions(sut.model_problems, "--threads '0'"));
  EXPECT_TRUE(mentions(sut.model_problems, "--interop-threads '0'"));
  EXPECT_TRUE(mentions(sut.model_problems, "unknown dtype 'float33'"));
  EXPECT_TRUE(mentions(sut.model_problems, "--input 'y' is given twice"));
  EXPECT_TRUE(mentions(sut.model_problems, "unknown option --bogus"));
  EXPECT_TRUE(mentions(sut.model_problems, "no --output given"));
}

TEST(WorkerOptions, AFlagWithoutItsValueIsAChannelProblem) {
  const Args args{"--segment", "seg", "--generation"};
  const WorkerOptions sut = parse_worker_options(args.span());
  EXPECT_TRUE(mentions(sut.channel_problems, "--generation needs a value"));
}

TEST(WorkerOptions, RejectsABadPidAndLogLevel) {
  const Args args{"--segment", "s",           "--generation", "1",           "--supervisor-pid",
                  "-3",        "--wakeup-fd", "-1",           "--log-level", "loud"};
  const WorkerOptions sut = parse_worker_options(args.span());
  EXPECT_TRUE(mentions(sut.channel_problems, "--supervisor-pid '-3'"));
  EXPECT_TRUE(mentions(sut.channel_problems, "--log-level 'loud'"));
}

TEST(WorkerOptions, RejectsAModelNameTheFrameCannotCarry) {
  const Args args{"--model-name", std::string(200, 'm')};
  const WorkerOptions sut = parse_worker_options(args.span());
  EXPECT_TRUE(mentions(sut.model_problems, "must be 1-128 bytes"));
}

}  // namespace
}  // namespace infervisor::worker
