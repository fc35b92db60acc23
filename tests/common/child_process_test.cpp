#include "common/child_process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace infervisor {
namespace {

bool readable_within(int fd, int milliseconds) {
  pollfd entry{fd, POLLIN, 0};
  return ::poll(&entry, 1, milliseconds) == 1;
}

TEST(ChildProcess_test, ReportsTheExitStatus) {
  auto sut = ChildProcess::spawn("/bin/sh", {"-c", "exit 3"});
  EXPECT_GT(sut.pid(), 0);
  EXPECT_TRUE(readable_within(sut.pidfd(), 5000));  // how an event loop learns of the exit
  const auto status = sut.wait();
  EXPECT_TRUE(status.exited());
  EXPECT_EQ(status.exit_code(), 3);
  EXPECT_FALSE(status.success());
  EXPECT_EQ(status.describe(), "exited with status 3");
  EXPECT_FALSE(sut.running());
  ASSERT_TRUE(sut.try_reap());
  EXPECT_EQ(sut.try_reap()->raw, status.raw);
}

TEST(ChildProcess_test, DestructorKillsAndReaps) {
  pid_t pid = -1;
  {
    auto sut = ChildProcess::spawn("/bin/sleep", {"60"});
    pid = sut.pid();
    EXPECT_FALSE(sut.try_reap());
  }
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);  // reaped: no longer our child
}

TEST(ChildProcess_test, SignalsAreDescribed) {
  auto sut = ChildProcess::spawn("/bin/sleep", {"60"});
  sut.signal(SIGKILL);
  const auto status = sut.wait();
  EXPECT_TRUE(status.killed_by(SIGKILL));
  EXPECT_NE(status.describe().find("signal 9"), std::string::npos);
  sut.signal(SIGKILL);  // reaped: a no-op, never a stray signal to a recycled pid
}

TEST(ChildProcess_test, WaitForGivesUpOnAHungChild) {
  auto sut = ChildProcess::spawn("/bin/sleep", {"60"});
  EXPECT_FALSE(sut.wait_for(std::chrono::milliseconds(50)));
  EXPECT_TRUE(sut.running());
}

TEST(ChildProcess_test, OnlyNamedDescriptorsAreInherited) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  UniqueFd first(pipe_fds[0]);
  UniqueFd second(pipe_fds[1]);
  SpawnOptions options;
  options.inherit_fds = {first.get()};
  const auto script = fmt::format("test -e /proc/self/fd/{} && ! test -e /proc/self/fd/{}",
                                  first.get(), second.get());
  auto sut = ChildProcess::spawn("/bin/sh", {"-c", script}, options);
  const auto status = sut.wait();
  EXPECT_TRUE(status.success()) << status.describe();
}

TEST(ChildProcess_test, StandardStreamsCanBeRedirected) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  UniqueFd read_end(pipe_fds[0]);
  UniqueFd write_end(pipe_fds[1]);
  SpawnOptions options;
  options.stderr_fd = write_end.get();
  auto sut = ChildProcess::spawn("/bin/sh", {"-c", "echo hello >&2"}, options);
  EXPECT_TRUE(sut.wait().success());
  write_end.reset();
  char buffer[16] = {};
  EXPECT_EQ(::read(read_end.get(), buffer, sizeof(buffer)), 6);
  EXPECT_STREQ(buffer, "hello\n");
}

TEST(ChildProcess_test, CanRunInItsOwnProcessGroup) {
  SpawnOptions options;
  options.own_process_group = true;
  auto sut = ChildProcess::spawn("/bin/sh", {"-c", "test $(ps -o pgid= -p $$) -eq $$"}, options);
  EXPECT_TRUE(sut.wait().success());
  auto shared_group = ChildProcess::spawn("/bin/sh", {"-c", "test $(ps -o pgid= -p $$) -eq $$"});
  EXPECT_FALSE(shared_group.wait().success());
}

TEST(ChildProcess_test, EnvironmentEntriesReplaceOrAddToTheParents) {
  ::setenv("INFERVISOR_TEST_KEPT", "kept", 1);
  ::setenv("INFERVISOR_TEST_REPLACED", "old", 1);
  SpawnOptions options;
  options.environment = {"INFERVISOR_TEST_REPLACED=new", "INFERVISOR_TEST_ADDED=", "A=1", "A=2"};
  auto sut = ChildProcess::spawn(
      "/bin/sh",
      {"-c",
       "test \"$INFERVISOR_TEST_KEPT\" = kept && test \"$INFERVISOR_TEST_REPLACED\" = new && "
       "test \"${INFERVISOR_TEST_ADDED-unset}\" = '' && test \"$A\" = 2 && "
       "test $(env | grep -c '^INFERVISOR_TEST_REPLACED=') -eq 1"},
      options);
  EXPECT_TRUE(sut.wait().success());
  ::unsetenv("INFERVISOR_TEST_KEPT");
  ::unsetenv("INFERVISOR_TEST_REPLACED");
}

TEST(ChildProcess_test, AMissingExecutableIsAClearError) {
  try {
    auto sut = ChildProcess::spawn("/nonexistent/infervisor-worker", {});
    // glibc may report the failed exec as exit status 127 instead of an error.
    EXPECT_EQ(sut.wait().exit_code(), 127);
  } catch (const InfervisorError& error) {
    EXPECT_NE(std::string(error.what()).find("/nonexistent/infervisor-worker"), std::string::npos);
  }
}

}  // namespace
}  // namespace infervisor
