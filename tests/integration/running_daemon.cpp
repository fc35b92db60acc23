#include "running_daemon.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "client/endpoint.hpp"
#include "common/unique_fd.hpp"

namespace infervisor::testing {

std::filesystem::path models_dir() {
  return INFERVISOR_TEST_MODELS_DIR;
}
std::filesystem::path bin_dir() {
  return INFERVISOR_TEST_BIN_DIR;
}

namespace {

int instance_counter = 0;

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& task :
       std::filesystem::directory_iterator(fmt::format("/proc/{}/task", parent), ec)) {
    std::ifstream children(task.path() / "children");
    pid_t pid = 0;
    while (children >> pid)
      out.push_back(pid);
  }
  return out;
}

}  // namespace

RunningDaemon::RunningDaemon(const std::string& models_yaml, const std::string& extra_yaml) {
  const int instance = ++instance_counter;
  folder_ = std::filesystem::temp_directory_path() /
            fmt::format("infervisor-it-{}-{}", ::getpid(), instance);
  std::filesystem::remove_all(folder_);
  std::filesystem::create_directories(folder_);
  socket_ = folder_ / "d.sock";
  config_ = folder_ / "config.yaml";
  shm_prefix_ = fmt::format("ivit{}x{}", ::getpid(), instance);
  // Defaults for what the test did not set itself.
  std::string settings = extra_yaml;
  auto default_to = [&](std::string_view key, const std::string& value) {
    if (settings.find(std::string(key) + ":") == std::string::npos) {
      settings += fmt::format("{}: {}\n", key, value);
    }
  };
  default_to("log_level", "info");
  default_to("startup_timeout", "60s");
  default_to("worker_path", (bin_dir() / "infervisor-worker").string());
  std::ofstream(config_) << fmt::format("socket: {}\nshm_prefix: {}\n{}models:\n{}",
                                        socket_.string(), shm_prefix_, settings, models_yaml);
}

RunningDaemon::~RunningDaemon() {
  if (process_.running()) stop(std::chrono::seconds(30));
  std::error_code ec;
  std::filesystem::remove_all(folder_, ec);
  // A daemon killed hard leaves its rings in /dev/shm (its next start under the same prefix
  // would reclaim them, but no test daemon starts again under this one's): 128 MiB a test.
  for (const auto& name : leftover_segments())
    std::filesystem::remove(std::filesystem::path("/dev/shm") / name, ec);
}

void RunningDaemon::start() {
  // The daemon's stderr (its log) goes to a file the test can read.
  const UniqueFd log(
      ::open((folder_ / "daemon.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  SpawnOptions options;
  options.stderr_fd = log.get();
  process_ =
      ChildProcess::spawn(bin_dir() / "infervisord", {"--config", config_.string()}, options);
}

bool RunningDaemon::wait_ready(std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (process_.try_reap()) return false;
    try {
      if (client(std::chrono::seconds(2)).server_ready()) return true;
    } catch (const std::exception&) {
      // Not listening yet.
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::optional<ExitStatus> RunningDaemon::wait_exit(std::chrono::seconds timeout) {
  return process_.wait_for(timeout);
}

ExitStatus RunningDaemon::kill_hard() {
  process_.signal(SIGKILL);
  return process_.wait();
}

ExitStatus RunningDaemon::stop(std::chrono::seconds timeout) {
  process_.signal(SIGTERM);
  if (const auto status = wait_exit(timeout)) return *status;
  ADD_FAILURE() << "infervisord did not exit within " << timeout.count() << " s of SIGTERM";
  process_.signal(SIGKILL);
  return process_.wait();
}

client::Client RunningDaemon::client(std::chrono::milliseconds request_timeout) const {
  client::ClientOptions options;
  options.endpoint = client::UnixEndpoint{socket_};
  options.request_timeout = request_timeout;
  return client::Client(options);
}

std::string RunningDaemon::log() const {
  std::ifstream in(folder_ / "daemon.log");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::size_t RunningDaemon::log_count(std::string_view what) const {
  const std::string text = log();
  std::size_t count = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++count;
  return count;
}

bool RunningDaemon::wait_for_log(std::string_view what, std::size_t count,
                                 std::chrono::seconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (log_count(what) < count) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

std::vector<std::string> RunningDaemon::leftover_segments() const {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
    const auto name = entry.path().filename().string();
    if (name.starts_with(shm_prefix_ + ".")) out.push_back(name);
  }
  return out;
}

std::vector<pid_t> RunningDaemon::worker_pids() const {
  return children_of(process_.pid());
}

}  // namespace infervisor::testing
