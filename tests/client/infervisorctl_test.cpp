// Drives the real infervisorctl binary as a user would, against the fake server.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

#include "common/child_process.hpp"
#include "common/unique_fd.hpp"
#include "tests/client/fake_http_server.hpp"
#include "tests/client/stats_bodies.hpp"

namespace infervisor::client {
namespace {

using testing::FakeHttpServer;
using testing::http_response;

struct Run {
  int status = -1;
  std::string output;  // stdout and stderr together
};

Run run_ctl(const std::string& arguments) {
  const std::string command = std::string(INFERVISORCTL_PATH) + " " + arguments + " 2>&1";
  Run run;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  std::array<char, 4096> chunk{};
  while (const auto n = std::fread(chunk.data(), 1, chunk.size(), pipe))
    run.output.append(chunk.data(), n);
  const int status = ::pclose(pipe);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

TEST(client_infervisorctl_test, HealthAgainstAServer) {
  FakeHttpServer server;
  server.reply(http_response(200, ""));
  server.reply(http_response(200, ""));
  const auto run = run_ctl("--socket " + server.socket_path().string() + " health");
  EXPECT_EQ(run.status, 0) << run.output;
  EXPECT_EQ(run.output, "live: yes\nready: yes\n");
}

TEST(client_infervisorctl_test, NotReadyExitsOne) {
  FakeHttpServer server;
  server.reply(http_response(200, ""));
  server.reply(http_response(503, ""));
  EXPECT_EQ(run_ctl("health --socket=" + server.socket_path().string()).status, 1);
}

TEST(client_infervisorctl_test, AnHttpErrorIsPrintedAndExitsOne) {
  FakeHttpServer server;
  server.reply(http_response(404, R"({"error":"unknown model 'q'"})"));
  const auto run = run_ctl("metadata q --socket " + server.socket_path().string());
  EXPECT_EQ(run.status, 1);
  EXPECT_EQ(run.output, "infervisorctl: GET /v2/models/q: HTTP 404 Not Found: unknown model 'q'\n");
}

TEST(client_infervisorctl_test, NoServerExitsOne) {
  testing::TempDir dir;
  const auto run = run_ctl("health --socket " + (dir / "none.sock").string());
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.output.find("none.sock"), std::string::npos) << run.output;
}

TEST(client_infervisorctl_test, UsageErrorsExitTwo) {
  EXPECT_EQ(run_ctl("").status, 2);
  EXPECT_EQ(run_ctl("frobnicate").status, 2);
  EXPECT_EQ(run_ctl("infer m").status, 2);
  const auto help = run_ctl("--help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.output.find("usage: infervisorctl"), std::string::npos);
}

TEST(client_infervisorctl_test, TopStopsAfterCount) {
  FakeHttpServer server;
  for (int i = 0; i < 3; ++i)
    server.reply(http_response(200, testing::stats_body("mlp", 2 * i)));
  const auto run =
      run_ctl("top --count 2 --interval 0.1 --socket " + server.socket_path().string());
  EXPECT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("REQ/S"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find('\x1b'), std::string::npos) << "stdout is a pipe, not a terminal";
  EXPECT_EQ(server.received().size(), 3u);
}

TEST(client_infervisorctl_test, TopRunsUntilSigintAndExitsZero) {
  FakeHttpServer server;
  for (int i = 0; i < 1000; ++i)
    server.reply(http_response(200, testing::stats_body("mlp", i)));
  testing::TempDir dir;
  const UniqueFd output(::open((dir / "out").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  ASSERT_TRUE(output.valid());
  SpawnOptions options;
  options.stdout_fd = output.get();
  options.stderr_fd = output.get();
  auto top = ChildProcess::spawn(
      INFERVISORCTL_PATH, {"top", "--interval", "0.1", "--socket", server.socket_path().string()},
      options);
  // Two samples taken: it is in its loop, past installing its handler.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (server.received().size() < 2 && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_GE(server.received().size(), 2u);
  top.signal(SIGINT);
  const auto status = top.wait_for(std::chrono::seconds(30));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->success()) << status->describe();
}

}  // namespace
}  // namespace infervisor::client
