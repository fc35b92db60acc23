#include "supervisor/daemon.hpp"

#include <sched.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <thread>

#include "shm/wait.hpp"
#include "supervisor/shm_space.hpp"
#include "supervisor/stale_segments.hpp"
#include "supervisor/unix_group.hpp"

namespace infervisor::supervisor {
namespace {

// Idle passes of the loop between two looks at the reactor, the clock and sched_yield: the rings
// are polled on every pass (a load each), the rest costs system calls. About half a microsecond
// of polling, so a worker sharing this CPU still gets to run often.
constexpr unsigned kIdlePassesPerCheck = 16;

}  // namespace

Daemon::Daemon(DaemonConfig config)
    : config_(std::move(config)),
      signals_(io_, SIGTERM, SIGINT),
      registry_(io_),
      router_(*this),
      drain_timer_(io_),
      watchdog_timer_(io_) {
  limits_.max_body_bytes = config_.max_request_bytes;
  queued_bytes_.limit = config_.max_queued_bytes;
  if (config_.client_shared_memory) {
    client_regions_ = ClientRegions::create(
        io_.get_executor(),
        {config_.client_shared_memory_max_regions, config_.client_shared_memory_max_bytes},
        config_.shm_prefix);
    // No job uses the region any more: the workers that mapped it may let it go.
    client_regions_->set_on_released([this](std::uint64_t token) {
      for (auto& pool : pools_)
        pool->release_region(token);
    });
  }
}

Daemon::~Daemon() = default;

bool Daemon::all_models_ready() const {
  if (phase_ != Phase::kServing) return false;
  for (const auto& pool : pools_) {
    // A model an operator unloaded is not expected to serve.
    if (pool->status() == ModelPool::Status::kUnavailable) continue;
    if (!pool->ready()) return false;
  }
  return true;
}

std::vector<const ModelPool*> Daemon::all_pools() const {
  std::vector<const ModelPool*> out;
  for (const auto& pool : pools_)
    out.push_back(pool.get());
  return out;
}

ModelPool* Daemon::find_pool(std::string_view model) {
  for (auto& pool : pools_) {
    if (pool->model().name == model) return pool.get();
  }
  return nullptr;
}

std::vector<ModelState> Daemon::model_states() const {
  std::vector<ModelState> states;
  for (const auto& pool : pools_) {
    states.push_back({&pool->model(), pool->ready() && !draining(),
                      ModelPool::status_name(pool->status()), pool->failure()});
  }
  return states;
}

std::string Daemon::status_line() const {
  std::string line;
  for (const auto& pool : pools_) {
    if (!line.empty()) line += "; ";
    if (pool->status() == ModelPool::Status::kFailed ||
        pool->status() == ModelPool::Status::kUnavailable) {
      line += fmt::format("{}: {}", pool->model().name, ModelPool::status_name(pool->status()));
      // STATUS= is one line: the reason's first line (its stderr tail comes after a ';').
      if (!pool->failure().empty())
        line += fmt::format(" ({})", pool->failure().substr(0, pool->failure().find('\n')));
      continue;
    }
    line +=
        fmt::format("{}: {}/{} workers ready, {} queued, {} in flight", pool->model().name,
                    pool->ready_workers(), pool->worker_count(), pool->queued(), pool->in_flight());
  }
  return line;
}

int Daemon::run() {
  for (const auto& name : remove_stale_segments(config_.shm_prefix)) {
    spdlog::warn("removed shared-memory segment {} left by a daemon that was killed", name);
  }
  check_shm_space(config_);
  open_listeners();
  registry_.start_sweeping();
  watch_signals();
  schedule_watchdog();
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  for (const auto& model : config_.models) {
    pools_.push_back(std::make_unique<ModelPool>(
        io_, config_, model, cores, [this] { return next_generation_++; }, queued_bytes_, *this));
  }
  try {
    for (auto& pool : pools_)
      pool->start();
  } catch (const std::exception& error) {
    spdlog::error("start-up failed: {}", error.what());
    exit_code_ = 1;
    begin_shutdown("start-up failed", true);
  }
  notifier_.status(fmt::format("starting: {}", status_line()));
  run_loop();
  spdlog::info("stopped");
  return exit_code_;
}

void Daemon::open_listeners() {
  limits_.max_json_body_bytes = config_.max_json_request_bytes;
  limits_.max_connections = config_.max_connections;
  // Group names are resolved now, so that an unknown one stops the start with its key.
  std::optional<gid_t> socket_group;
  if (!config_.socket_group.empty())
    socket_group = resolve_group(config_.socket_group, config_.source, "socket_group");
  auto access = PeerAccess::from_config(config_);
  socket_file_.emplace(io_, config_.socket_path, config_.socket_mode, socket_group);
  unix_listener_ = std::make_unique<HttpListener<boost::asio::local::stream_protocol>>(
      io_, socket_file_->take_acceptor(), router_, registry_, limits_, *this, std::move(access));
  unix_listener_->start();
  spdlog::info("listening on {}", config_.socket_path.string());
  if (config_.tcp) {
    namespace ip = boost::asio::ip;
    const ip::tcp::endpoint endpoint(ip::make_address(config_.tcp->host), config_.tcp->port);
    ip::tcp::acceptor acceptor(io_);
    boost::system::error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(ip::tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
    if (ec) {
      throw InfervisorError(ErrorCode::kSystem,
                            fmt::format("{}: tcp {}:{}: {}", config_.source.string(),
                                        config_.tcp->host, config_.tcp->port, ec.message()));
    }
    tcp_listener_ = std::make_unique<HttpListener<ip::tcp>>(io_, std::move(acceptor), router_,
                                                            registry_, limits_, *this);
    tcp_listener_->start();
    spdlog::info("listening on tcp {}:{}", config_.tcp->host, config_.tcp->port);
  }
}

void Daemon::watch_signals() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signal_number) {
    if (ec) return;
    if (phase_ >= Phase::kDraining) {
      spdlog::warn("{} again: not waiting for in-flight jobs any longer",
                   ::strsignal(signal_number));
      if (phase_ == Phase::kDraining) stop_workers(true);
    } else {
      begin_shutdown(fmt::format("received {}", ::strsignal(signal_number)), false);
    }
    watch_signals();
  });
}

void Daemon::schedule_watchdog() {
  const auto period = notifier_.watchdog_period();
  if (!period) return;
  notifier_.watchdog();
  watchdog_timer_.expires_after(*period);
  watchdog_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && phase_ != Phase::kDone) schedule_watchdog();
  });
}

void Daemon::on_pool_ready(ModelPool&) {
  serve_if_every_model_settled();
}

// Start-up is over once every model is READY or (exit_on_error: false) FAILED.
void Daemon::serve_if_every_model_settled() {
  if (phase_ != Phase::kStarting) return;
  for (const auto& each : pools_) {
    if (each->status() != ModelPool::Status::kReady && each->status() != ModelPool::Status::kFailed)
      return;
  }
  phase_ = Phase::kServing;
  spdlog::info("every model settled; serving ({})", status_line());
  notifier_.ready(status_line());
}

void Daemon::on_pool_failed(ModelPool& pool, const std::string& reason, bool during_startup) {
  if (phase_ >= Phase::kDraining) return;
  if (during_startup && config_.exit_on_error) {
    spdlog::error("start-up failed: {}", reason);
    exit_code_ = 1;
    begin_shutdown("start-up failed", true);
    return;
  }
  spdlog::error("model '{}' is FAILED; the other models serve on", pool.model().name);
  serve_if_every_model_settled();
  notifier_.status(status_line());
}

void Daemon::on_pool_changed(ModelPool&) {
  if (phase_ == Phase::kServing) notifier_.status(status_line());
}

void Daemon::begin_shutdown(const std::string& why, bool hurry) {
  if (phase_ >= Phase::kDraining) return;
  phase_ = Phase::kDraining;
  spdlog::info("shutting down ({}): no new connections; finishing {} job(s)", why, [this] {
    std::size_t jobs = 0;
    for (const auto& pool : pools_)
      jobs += pool->queued() + pool->in_flight();
    return jobs;
  }());
  notifier_.stopping(why);
  // Every request whose first byte is here is served, also on connections still in the listen
  // backlogs; later ones get 503 (the router judges by RequestContext::before_drain). Removing
  // the file first means no new connection reaches the Unix socket while its backlog is taken.
  if (socket_file_) socket_file_->remove();
  if (unix_listener_) unix_listener_->accept_backlog_then_stop();
  if (tcp_listener_) tcp_listener_->accept_backlog_then_stop();
  registry_.begin_drain();
  if (hurry) return stop_workers(true);
  drain_timer_.expires_after(config_.drain_timeout);
  drain_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || phase_ != Phase::kDraining) return;
    spdlog::warn("drain_timeout ({} ms) passed with jobs still running; stopping the workers",
                 config_.drain_timeout.count());
    stop_workers(false);
  });
  advance_shutdown();
}

void Daemon::stop_workers(bool hurry) {
  if (phase_ >= Phase::kStopping) return;
  phase_ = Phase::kStopping;
  hurry_ = hurry;
  drain_timer_.cancel();
  const auto timeout = hurry ? std::chrono::milliseconds(1000) : config_.shutdown_timeout;
  for (auto& pool : pools_)
    pool->shutdown(timeout);
  advance_shutdown();
}

// Moves the shutdown on when the step it waits for is done; called from the loop.
void Daemon::advance_shutdown() {
  if (phase_ == Phase::kDraining) {
    if (registry_.reading_before_drain() > 0) return;
    for (const auto& pool : pools_) {
      if (!pool->idle()) return;
    }
    stop_workers(false);
    return;
  }
  if (phase_ == Phase::kStopping) {
    for (const auto& pool : pools_) {
      if (!pool->all_exited()) return;
    }
    finish();
  }
}

void Daemon::finish() {
  phase_ = Phase::kDone;
  watchdog_timer_.cancel();
  signals_.cancel();
  registry_.stop_sweeping();
  // Every job has its answer now; connections close once their last reply is written.
  registry_.close_all_when_idle();
  // Pools go (segments unlinked) outside the handler that called us.
  boost::asio::post(io_, [this] { pools_.clear(); });
}

std::chrono::nanoseconds Daemon::spin_budget() const {
  std::chrono::nanoseconds budget = config_.spin;
  for (const auto& pool : pools_)
    budget = std::max(budget, pool->answer_spin(config_.spin_while_busy));
  return budget;
}

void Daemon::run_loop() {
  using Clock = std::chrono::steady_clock;
  unsigned idle_passes = 0;
  bool idle = false;  // since idle_since, with the spin budget computed then
  Clock::time_point idle_since;
  std::chrono::nanoseconds budget{0};
  while (!io_.stopped()) {
    std::size_t handled = 0;
    for (auto& pool : pools_)
      handled += pool->poll();
    // The rings cost a load each; the reactor costs an epoll_wait system call, so it is looked at
    // after work (to run the handlers that work posted) and every few idle passes.
    if (handled > 0 || ++idle_passes % kIdlePassesPerCheck == 0) handled += io_.poll();
    if (phase_ == Phase::kDraining || phase_ == Phase::kStopping) advance_shutdown();
    if (handled > 0) {
      idle_passes = 0;
      idle = false;
      continue;
    }
    if (idle_passes % kIdlePassesPerCheck != 0) {
      shm::cpu_relax();
      continue;
    }
    const auto now = Clock::now();
    if (!idle) {
      idle = true;
      idle_since = now;
      budget = spin_budget();
    }
    if (now - idle_since < budget) {
      // A worker or client on this CPU must get to run: it may be the very one we wait for.
      ::sched_yield();
      continue;
    }
    bool can_park = true;
    for (auto& pool : pools_) {
      if (!pool->arm_parking()) {
        can_park = false;
        break;
      }
    }
    if (can_park) io_.run_one();
    for (auto& pool : pools_)
      pool->disarm_parking();
    idle_passes = 0;
    idle = false;
  }
}

}  // namespace infervisor::supervisor
