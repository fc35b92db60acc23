#include "common/child_process.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

#include "common/error.hpp"

extern char** environ;

namespace infervisor {
namespace {

// posix_spawn's C interface, owned.
class SpawnSetup {
 public:
  SpawnSetup() {
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawnattr_init(&attributes);
  }
  ~SpawnSetup() {
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attributes);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
};

// The parent's environment with `overrides` (NAME=VALUE) replacing or adding entries. Built
// before posix_spawn: the child must not allocate between fork and exec.
std::vector<std::string> child_environment(const std::vector<std::string>& overrides) {
  auto name_of = [](std::string_view entry) { return entry.substr(0, entry.find('=')); };
  std::vector<std::string> out;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const bool replaced = std::any_of(overrides.begin(), overrides.end(),
                                      [&](const auto& o) { return name_of(o) == name_of(text); });
    if (!replaced) out.emplace_back(text);
  }
  for (const auto& override : overrides) {
    // The last entry for a name wins.
    const auto name = name_of(override);
    std::erase_if(out, [&](const std::string& e) { return name_of(e) == name; });
    out.push_back(override);
  }
  return out;
}

}  // namespace

bool ExitStatus::exited() const noexcept {
  return WIFEXITED(raw);
}
int ExitStatus::exit_code() const noexcept {
  return WEXITSTATUS(raw);
}
bool ExitStatus::killed_by(int signal_number) const noexcept {
  return WIFSIGNALED(raw) && WTERMSIG(raw) == signal_number;
}

std::string ExitStatus::describe() const {
  if (WIFEXITED(raw)) return fmt::format("exited with status {}", WEXITSTATUS(raw));
  if (WIFSIGNALED(raw)) {
    return fmt::format("killed by signal {} ({})", WTERMSIG(raw), ::strsignal(WTERMSIG(raw)));
  }
  return fmt::format("ended with wait status {:#x}", raw);
}

ChildProcess ChildProcess::spawn(const std::filesystem::path& executable,
                                 const std::vector<std::string>& args,
                                 const SpawnOptions& options) {
  SpawnSetup setup;
  for (const int fd : options.inherit_fds) {
    // dup2 onto itself clears FD_CLOEXEC in the child only (glibc >= 2.29, POSIX 2024).
    ::posix_spawn_file_actions_adddup2(&setup.actions, fd, fd);
  }
  if (options.stdin_fd >= 0)
    ::posix_spawn_file_actions_adddup2(&setup.actions, options.stdin_fd, 0);
  if (options.stdout_fd >= 0)
    ::posix_spawn_file_actions_adddup2(&setup.actions, options.stdout_fd, 1);
  if (options.stderr_fd >= 0)
    ::posix_spawn_file_actions_adddup2(&setup.actions, options.stderr_fd, 2);
  sigset_t no_signals;
  sigemptyset(&no_signals);
  sigset_t all_signals;
  sigfillset(&all_signals);
  ::posix_spawnattr_setsigmask(&setup.attributes, &no_signals);
  ::posix_spawnattr_setsigdefault(&setup.attributes, &all_signals);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (options.own_process_group) {
    ::posix_spawnattr_setpgroup(&setup.attributes, 0);
    flags |= POSIX_SPAWN_SETPGROUP;
  }
  ::posix_spawnattr_setflags(&setup.attributes, flags);

  std::vector<std::string> storage;
  storage.reserve(args.size() + 1);
  storage.push_back(executable.string());
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : storage)
    argv.push_back(arg.data());
  argv.push_back(nullptr);

  std::vector<std::string> environment;
  std::vector<char*> envp;
  if (!options.environment.empty()) {
    environment = child_environment(options.environment);
    for (auto& entry : environment)
      envp.push_back(entry.data());
    envp.push_back(nullptr);
  }

  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, storage[0].c_str(), &setup.actions, &setup.attributes,
                               argv.data(), envp.empty() ? environ : envp.data());
  if (rc != 0) {
    throw InfervisorError(ErrorCode::kSystem, fmt::format("cannot spawn {}: {}",
                                                          executable.string(), std::strerror(rc)));
  }
  ChildProcess child;
  child.pid_ = pid;
  child.pidfd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!child.pidfd_) {
    throw InfervisorError(system_error(fmt::format("pidfd_open({})", pid)));  // ~ChildProcess reaps
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

ChildProcess::~ChildProcess() {
  kill_and_reap();
}

void ChildProcess::signal(int signal_number) const noexcept {
  if (running()) ::kill(pid_, signal_number);
}

std::optional<ExitStatus> ChildProcess::try_reap() noexcept {
  if (pid_ <= 0 || status_) return status_;
  int raw = 0;
  pid_t reaped = 0;
  do {
    reaped = ::waitpid(pid_, &raw, WNOHANG);
  } while (reaped < 0 && errno == EINTR);
  if (reaped == pid_)
    status_ = ExitStatus{raw};
  else if (reaped < 0)
    status_ = ExitStatus{0};  // ECHILD: someone else reaped it
  return status_;
}

ExitStatus ChildProcess::wait() noexcept {
  while (pid_ > 0 && !status_) {
    int raw = 0;
    const pid_t reaped = ::waitpid(pid_, &raw, 0);
    if (reaped == pid_)
      status_ = ExitStatus{raw};
    else if (reaped < 0 && errno != EINTR)
      status_ = ExitStatus{0};
  }
  return status_.value_or(ExitStatus{});
}

std::optional<ExitStatus> ChildProcess::wait_for(std::chrono::milliseconds limit) noexcept {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!try_reap()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return status_;
}

void ChildProcess::kill_and_reap() noexcept {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait();
  }
  pid_ = -1;
  pidfd_.reset();
}

}  // namespace infervisor
