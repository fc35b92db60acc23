#include "supervisor/child_process.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "common/error.hpp"

extern char** environ;

namespace infervisor::supervisor {
namespace {

int open_pidfd(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

// posix_spawn's C interface, owned.
class SpawnSetup {
 public:
  SpawnSetup() {
    ::posix_spawn_file_actions_init(&actions_);
    ::posix_spawnattr_init(&attributes_);
  }
  ~SpawnSetup() {
    ::posix_spawn_file_actions_destroy(&actions_);
    ::posix_spawnattr_destroy(&attributes_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attributes_;
};

}  // namespace

ChildProcess ChildProcess::spawn(const std::filesystem::path& executable,
                                 const std::vector<std::string>& args,
                                 std::span<const int> inherit_fds) {
  SpawnSetup setup;
  for (const int fd : inherit_fds) {
    // dup2 onto itself clears FD_CLOEXEC in the child only (glibc >= 2.29, POSIX 2024).
    ::posix_spawn_file_actions_adddup2(&setup.actions_, fd, fd);
  }
  sigset_t no_signals;
  sigemptyset(&no_signals);
  sigset_t default_signals;
  sigfillset(&default_signals);
  ::posix_spawnattr_setsigmask(&setup.attributes_, &no_signals);
  ::posix_spawnattr_setsigdefault(&setup.attributes_, &default_signals);
  ::posix_spawnattr_setpgroup(&setup.attributes_, 0);
  ::posix_spawnattr_setflags(&setup.attributes_,
                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::vector<std::string> storage;
  storage.reserve(args.size() + 1);
  storage.push_back(executable.string());
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : storage) argv.push_back(arg.data());
  argv.push_back(nullptr);

  pid_t pid = -1;
  const int rc =
      ::posix_spawn(&pid, storage[0].c_str(), &setup.actions_, &setup.attributes_, argv.data(), environ);
  if (rc != 0) {
    throw InfervisorError(ErrorCode::kSystem, fmt::format("cannot spawn {}: {}", executable.string(),
                                                          std::strerror(rc)));
  }
  ChildProcess child;
  child.pid_ = pid;
  child.pidfd_.reset(open_pidfd(pid));
  if (!child.pidfd_) {
    const Error error = system_error(fmt::format("pidfd_open({})", pid));
    throw InfervisorError(error);  // ~ChildProcess kills and reaps it
  }
  return child;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::move(other.pidfd_)),
      status_(std::exchange(other.status_, std::nullopt)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    kill_and_reap();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::move(other.pidfd_);
    status_ = std::exchange(other.status_, std::nullopt);
  }
  return *this;
}

ChildProcess::~ChildProcess() { kill_and_reap(); }

void ChildProcess::signal(int signal_number) const noexcept {
  // Only while unreaped: after the reap the pid may belong to someone else.
  if (pid_ > 0 && !status_) ::kill(pid_, signal_number);
}

std::optional<int> ChildProcess::try_reap() noexcept {
  if (pid_ <= 0 || status_) return status_;
  int status = 0;
  const pid_t reaped = ::waitpid(pid_, &status, WNOHANG);
  if (reaped == pid_) status_ = status;
  return status_;
}

int ChildProcess::wait() noexcept {
  if (pid_ <= 0) return 0;
  while (!status_) {
    int status = 0;
    const pid_t reaped = ::waitpid(pid_, &status, 0);
    if (reaped == pid_) status_ = status;
    else if (reaped < 0 && errno != EINTR) status_ = 0;  // ECHILD: someone else reaped it
  }
  return *status_;
}

void ChildProcess::kill_and_reap() noexcept {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    wait();
  }
  pid_ = -1;
  pidfd_.reset();
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return fmt::format("killed by signal {} ({})", WTERMSIG(status), ::strsignal(WTERMSIG(status)));
  }
  return fmt::format("ended with wait status {:#x}", status);
}

}  // namespace infervisor::supervisor
