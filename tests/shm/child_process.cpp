#include "tests/shm/child_process.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace infervisor::shm::testing {

bool ExitStatus::exited() const noexcept {
  return WIFEXITED(raw);
}
int ExitStatus::exit_code() const noexcept {
  return WEXITSTATUS(raw);
}
bool ExitStatus::killed_by(int signal) const noexcept {
  return WIFSIGNALED(raw) && WTERMSIG(raw) == signal;
}

std::string ExitStatus::describe() const {
  if (WIFEXITED(raw)) return fmt::format("exited with {}", WEXITSTATUS(raw));
  if (WIFSIGNALED(raw)) {
    return fmt::format("killed by signal {} ({})", WTERMSIG(raw), ::strsignal(WTERMSIG(raw)));
  }
  return fmt::format("ended with wait status {:#x}", raw);
}

Result<ChildProcess> ChildProcess::spawn(std::span<const std::string> argv) noexcept {
  if (argv.empty()) return make_error(ErrorCode::kInvalidArgument, "spawn needs a program");
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& arg : argv)
    args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  // posix_spawn, not fork: a test process may have threads, and fork would copy only this one.
  if (const int rc = ::posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ);
      rc != 0) {
    return make_error(ErrorCode::kSystem, "cannot spawn '{}': {}", argv[0], std::strerror(rc));
  }
  return ChildProcess(pid);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(std::exchange(other.status_, std::nullopt)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    kill_and_reap();
    pid_ = std::exchange(other.pid_, -1);
    status_ = std::exchange(other.status_, std::nullopt);
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  kill_and_reap();
}

void ChildProcess::kill(int signal) const noexcept {
  // Once reaped the pid may belong to someone else: never signal it then.
  if (pid_ > 0 && !status_) ::kill(pid_, signal);
}

std::optional<ExitStatus> ChildProcess::try_wait() noexcept {
  if (status_ || pid_ <= 0) return status_;
  int raw = 0;
  pid_t reaped = 0;
  do {
    reaped = ::waitpid(pid_, &raw, WNOHANG);
  } while (reaped < 0 && errno == EINTR);
  if (reaped == pid_) status_ = ExitStatus{raw};
  return status_;
}

std::optional<ExitStatus> ChildProcess::wait_for(std::chrono::milliseconds limit) noexcept {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!try_wait() && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return status_;
}

void ChildProcess::kill_and_reap() noexcept {
  if (pid_ <= 0 || status_) return;
  ::kill(pid_, SIGKILL);
  int raw = 0;
  while (::waitpid(pid_, &raw, 0) < 0 && errno == EINTR) {
  }
  status_ = ExitStatus{raw};
}

}  // namespace infervisor::shm::testing
