#include "bench/e2e/daemon_process.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "client/client.hpp"
#include "common/unique_fd.hpp"

namespace infervisor::bench::e2e {
namespace {

std::string config_yaml(const DaemonSettings& settings, const std::filesystem::path& socket) {
  std::string yaml = fmt::format(
      "socket: {}\n"
      "tcp: off\n"
      "log_level: {}\n"
      "startup_timeout: 120s\n"
      // Unique per run: two benchmarks (or a test) at once must not meet in /dev/shm.
      "shm_prefix: ivbench{}\n"
      "worker_path: {}\n",
      socket.string(), settings.log_level, ::getpid(),
      (settings.bin_dir / "infervisor-worker").string());
  yaml += settings.daemon_extra;
  if (!settings.spin.empty()) yaml += fmt::format("spin: {}\n", settings.spin);
  if (!settings.spin_while_busy.empty())
    yaml += fmt::format("spin_while_busy: {}\n", settings.spin_while_busy);
  yaml += fmt::format(
      "models:\n"
      "  - name: {}\n"
      "    path: {}\n"
      "    instances: {{count: {}, device: '{}'}}\n",
      settings.model_name, settings.model.string(), settings.workers, settings.device);
  if (settings.max_inflight) yaml += fmt::format("    max_inflight: {}\n", *settings.max_inflight);
  yaml += settings.model_extra;
  yaml += fmt::format(
      "    inputs:\n"
      "      - {}\n"
      "    outputs:\n"
      "      - {}\n",
      settings.input, settings.output);
  return yaml;
}

}  // namespace

DaemonProcess::DaemonProcess(const DaemonSettings& settings)
    : folder_("infervisor-bench-e2e"),
      socket_(folder_.path() / "d.sock"),
      log_(folder_.path() / "daemon.log") {
  const auto config = folder_.path() / "config.yaml";
  std::ofstream(config) << config_yaml(settings, socket_);
  const UniqueFd log(::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!log) throw std::system_error(errno, std::generic_category(), "open " + log_.string());
  // In this process group: a Ctrl-C on the benchmark reaches the daemon too, which then drains
  // and stops its workers by itself.
  SpawnOptions spawn;
  spawn.stderr_fd = log.get();
  process_ =
      ChildProcess::spawn(settings.bin_dir / "infervisord", {"--config", config.string()}, spawn);
}

DaemonProcess::~DaemonProcess() {
  // On an aborted run, SIGTERM first: a daemon that shuts down unlinks its /dev/shm segments,
  // which a SIGKILL would leave behind. ~ChildProcess kills whatever still runs after that.
  if (process_.running()) {
    process_.signal(SIGTERM);
    process_.wait_for(std::chrono::seconds(10));
  }
}

void DaemonProcess::wait_ready(std::chrono::seconds timeout) {
  client::ClientOptions options;
  options.endpoint = client::UnixEndpoint{socket_};
  options.connect_timeout = std::chrono::seconds(1);
  options.request_timeout = std::chrono::seconds(2);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (const auto status = process_.try_reap()) {
      throw std::runtime_error(fmt::format("infervisord {} before it was ready; its log ends:\n{}",
                                           status->describe(), log_tail()));
    }
    try {
      if (client::Client(options).server_ready()) return;
    } catch (const std::exception&) {
      // Not listening yet.
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error(fmt::format("infervisord was not ready within {} s; its log ends:\n{}",
                                       timeout.count(), log_tail()));
}

ExitStatus DaemonProcess::stop(std::chrono::seconds timeout) {
  process_.signal(SIGTERM);
  if (const auto status = process_.wait_for(timeout)) return *status;
  throw std::runtime_error(
      fmt::format("infervisord did not exit within {} s of SIGTERM", timeout.count()));
}

std::vector<pid_t> DaemonProcess::worker_pids() const {
  std::vector<pid_t> pids;
  std::error_code ec;
  const auto tasks = std::filesystem::path("/proc") / std::to_string(pid()) / "task";
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream children(task.path() / "children");
    for (pid_t child = 0; children >> child;)
      pids.push_back(child);
  }
  return pids;
}

std::string DaemonProcess::log_tail(std::size_t bytes) const {
  std::ifstream in(log_);
  std::ostringstream text;
  text << in.rdbuf();
  const std::string all = text.str();
  return all.size() <= bytes ? all : all.substr(all.size() - bytes);
}

}  // namespace infervisor::bench::e2e
