// infervisord's top level: the event loop, the listeners, one pool per model, signals, systemd,
// and the order things start and stop in.
//
// Start:    /dev/shm space check -> bind sockets -> spawn every worker -> READY=1 once all report
//           READY (or exit 1 with the first worker's reason).
// SIGTERM:  socket file removed -> connections waiting in the listen backlog accepted, then the
//           listeners closed -> every request that began before the signal answered (bodies still
//           being read included; later ones get 503) and every queued and in-flight job answered
//           (drain_timeout) -> SHUTDOWN sentinel to every worker -> SHUTDOWN_ACK and exit, or
//           SIGKILL after shutdown_timeout -> segments unlinked -> exit 0.
//
// Everything runs on one thread. Between events the loop polls the workers' response rings (a
// worker answering in microseconds is seen without any wake-up system call) for `spin`, or, while
// jobs are in flight, for about a job's time (at most `spin_while_busy`), then parks in epoll,
// where the workers' eventfds wake it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <vector>

#include "supervisor/config.hpp"
#include "supervisor/http_listener.hpp"
#include "supervisor/model_pool.hpp"
#include "supervisor/router.hpp"
#include "supervisor/systemd_notifier.hpp"
#include "supervisor/unix_socket_file.hpp"

namespace infervisor::supervisor {

class Daemon final : public ServiceState, public ModelPool::Events {
 public:
  explicit Daemon(DaemonConfig config);
  ~Daemon() override;
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Runs until shut down; returns the process exit code. Throws InfervisorError if it cannot
  // start at all (config, sockets, /dev/shm).
  int run();

  // ServiceState
  bool draining() const override { return phase_ >= Phase::kDraining; }
  bool all_models_ready() const override;
  ModelPool* find_pool(std::string_view model) override;
  std::vector<ModelState> model_states() const override;
  std::uint64_t next_job_id() override { return next_job_id_++; }
  bool tcp_admin() const override { return config_.tcp_admin; }
  ClientRegions* client_regions() override { return client_regions_.get(); }
  std::vector<const ModelPool*> all_pools() const override;
  std::size_t connections() const override { return registry_.size(); }
  double uptime_seconds() const override {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  }

 private:
  enum class Phase { kStarting, kServing, kDraining, kStopping, kDone };

  void on_pool_ready(ModelPool& pool) override;
  void on_pool_failed(ModelPool& pool, const std::string& reason, bool during_startup) override;
  void serve_if_every_model_settled();
  void on_pool_changed(ModelPool& pool) override;

  void open_listeners();
  void watch_signals();
  void schedule_watchdog();
  void begin_shutdown(const std::string& why, bool hurry);
  void stop_workers(bool hurry);
  void finish();
  void advance_shutdown();
  void run_loop();
  std::chrono::nanoseconds spin_budget() const;
  std::string status_line() const;

  DaemonConfig config_;
  boost::asio::io_context io_{1};
  boost::asio::signal_set signals_;
  SystemdNotifier notifier_;
  HttpLimits limits_;
  ConnectionRegistry registry_;
  Router router_;
  std::optional<UnixSocketFile> socket_file_;
  std::unique_ptr<HttpListener<boost::asio::local::stream_protocol>> unix_listener_;
  std::unique_ptr<HttpListener<boost::asio::ip::tcp>> tcp_listener_;
  QueuedBytes queued_bytes_;
  std::vector<std::unique_ptr<ModelPool>> pools_;
  std::shared_ptr<ClientRegions> client_regions_;  // while client_shared_memory is on
  boost::asio::steady_timer drain_timer_;
  boost::asio::steady_timer watchdog_timer_;
  Phase phase_ = Phase::kStarting;
  bool hurry_ = false;
  int exit_code_ = 0;
  std::uint64_t next_job_id_ = 1;
  std::uint64_t next_generation_ = 1;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace infervisor::supervisor
