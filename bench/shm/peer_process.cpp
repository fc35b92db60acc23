#include "bench/shm/peer_process.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "bench/shm/machine.hpp"

extern char** environ;

namespace infervisor::bench {
namespace {

// Frees a posix_spawn_file_actions_t on every path out of the constructor.
struct FileActions {
  FileActions() { ::posix_spawn_file_actions_init(&actions); }
  ~FileActions() { ::posix_spawn_file_actions_destroy(&actions); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
  posix_spawn_file_actions_t actions;
};

}  // namespace

PeerProcess::PeerProcess(const std::vector<std::string>& args, std::optional<int> cpu,
                         int stdin_fd) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::vector<std::string> argv = {self, "--peer"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> pointers;
  for (auto& arg : argv)
    pointers.push_back(arg.data());
  pointers.push_back(nullptr);

  FileActions files;
  if (stdin_fd >= 0) ::posix_spawn_file_actions_adddup2(&files.actions, stdin_fd, STDIN_FILENO);
  // posix_spawn, not fork: the child is a fresh image with nothing of ours but what we pass.
  if (const int rc =
          ::posix_spawn(&pid_, self.c_str(), &files.actions, nullptr, pointers.data(), environ);
      rc != 0) {
    throw std::system_error(rc, std::generic_category(), "posix_spawn " + self);
  }
  // Pinned only now: the peer's warm-up rounds, before anything is measured, absorb the moment
  // it ran unpinned. A refusal leaves the destructor to reap it.
  if (cpu) pin(pid_, *cpu);
}

PeerProcess::~PeerProcess() {
  if (reaped_ || pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

void PeerProcess::wait_success() {
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "waitpid");
  }
  reaped_ = true;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error(fmt::format("peer {} ended with wait status {:#x}", pid_, status));
  }
}

}  // namespace infervisor::bench
