#include "supervisor/child_process.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace infervisor::supervisor {
namespace {

bool readable_within(int fd, int milliseconds) {
  pollfd entry{fd, POLLIN, 0};
  return ::poll(&entry, 1, milliseconds) == 1;
}

TEST(ChildProcess_test, ReportsTheExitStatus) {
  auto sut = ChildProcess::spawn("/bin/sh", {"-c", "exit 3"}, {});
  EXPECT_GT(sut.pid(), 0);
  EXPECT_TRUE(readable_within(sut.pidfd(), 5000));  // the event loop learns of the exit this way
  const int status = sut.wait();
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
  EXPECT_EQ(describe_wait_status(status), "exited with status 3");
  EXPECT_FALSE(sut.running());
  EXPECT_EQ(sut.try_reap(), status);
}

TEST(ChildProcess_test, DestructorKillsAndReaps) {
  pid_t pid = -1;
  {
    auto sut = ChildProcess::spawn("/bin/sleep", {"60"}, {});
    pid = sut.pid();
    EXPECT_FALSE(sut.try_reap());
  }
  // Reaped: the pid is no longer our child.
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
}

TEST(ChildProcess_test, SignalsAreDescribed) {
  auto sut = ChildProcess::spawn("/bin/sleep", {"60"}, {});
  sut.signal(SIGKILL);
  const int status = sut.wait();
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_NE(describe_wait_status(status).find("signal 9"), std::string::npos);
}

TEST(ChildProcess_test, OnlyNamedDescriptorsAreInherited) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  UniqueFd first(pipe_fds[0]);
  UniqueFd second(pipe_fds[1]);
  const int inherited[] = {first.get()};
  const auto script = fmt::format("test -e /proc/self/fd/{} && ! test -e /proc/self/fd/{}", first.get(),
                                  second.get());
  auto sut = ChildProcess::spawn("/bin/sh", {"-c", script}, inherited);
  const int status = sut.wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describe_wait_status(status);
}

TEST(ChildProcess_test, RunsInItsOwnProcessGroup) {
  auto sut = ChildProcess::spawn("/bin/sh", {"-c", "test $(ps -o pgid= -p $$) -eq $$"}, {});
  const int status = sut.wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describe_wait_status(status);
}

TEST(ChildProcess_test, AMissingExecutableIsAClearError) {
  try {
    auto sut = ChildProcess::spawn("/nonexistent/infervisor-worker", {}, {});
    // glibc may report the failed exec as exit status 127 instead of an error.
    const int status = sut.wait();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 127);
  } catch (const InfervisorError& error) {
    EXPECT_NE(std::string(error.what()).find("/nonexistent/infervisor-worker"), std::string::npos);
  }
}

}  // namespace
}  // namespace infervisor::supervisor
