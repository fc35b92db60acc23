#include "supervisor/model_pool.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "shm/frame.hpp"
#include "shm/ring.hpp"
#include "supervisor/scheduler.hpp"

namespace infervisor::supervisor {
namespace {

constexpr std::chrono::milliseconds kFirstRespawnDelay{250};
constexpr std::chrono::milliseconds kMaxRespawnDelay{30'000};

}  // namespace

ModelPool::ModelPool(boost::asio::io_context& io, const DaemonConfig& config,
                     const ModelConfig& model, unsigned cores,
                     std::function<std::uint64_t()> next_generation, Events& events)
    : io_(io),
      config_(config),
      model_(model),
      cores_(cores),
      next_generation_(std::move(next_generation)),
      events_(events) {}

ModelPool::~ModelPool() {
  for (auto& job : queue_)
    job->complete(error_reply(503, "the daemon stopped"));
}

std::unique_ptr<Worker> ModelPool::make_worker(int instance, const DeviceSpec& device) {
  const ThreadPlan threads = thread_plan(config_, model_, device.kind, cores_);
  WorkerIdentity identity{instance, device, threads.intra_op, next_generation_(), threads.inter_op};
  return std::make_unique<Worker>(io_, config_, model_, identity, *this);
}

void ModelPool::start() {
  int instance = 0;
  for (const auto& group : model_.instance_groups) {
    for (int i = 0; i < group.count; ++i) {
      workers_.push_back(make_worker(instance++, group.device));
      respawn_timers_.push_back(std::make_unique<boost::asio::steady_timer>(io_));
      respawn_backoff_.push_back(kFirstRespawnDelay);
    }
  }
  for (auto& worker : workers_)
    worker->start();
}

std::size_t ModelPool::ready_workers() const noexcept {
  std::size_t ready = 0;
  for (const auto& worker : workers_)
    ready += worker && worker->state() == Worker::State::kReady;
  return ready;
}

std::size_t ModelPool::in_flight() const noexcept {
  std::size_t total = 0;
  for (const auto& worker : workers_)
    total += worker ? worker->outstanding() : 0;
  return total;
}

bool ModelPool::all_exited() const noexcept {
  for (const auto& worker : workers_) {
    if (worker && worker->state() != Worker::State::kExited) return false;
  }
  return true;
}

void ModelPool::check_fits(const Job& job) const {
  const InferRequest& request = job.request();
  shm::SmallVector<shm::TensorLayout> layouts;
  for (const auto& input : request.inputs)
    layouts.push_back({input.name, input.dtype, input.shape});
  shm::SmallVector<std::string_view> outputs;
  for (const auto& output : request.outputs)
    outputs.push_back(output.name);
  const auto plan = shm::plan_frame(model_.name, layouts, outputs);
  if (!plan) throw HttpError(400, plan.error().message);
  const std::uint64_t limit = shm::max_payload_bytes(model_.ring_bytes);
  if (plan->total_bytes > limit) {
    fail_request(413,
                 "the job's tensors need {} bytes in shared memory but model '{}' takes at most {} "
                 "bytes per job (ring_size {})",
                 plan->total_bytes, model_.name, limit, model_.ring_bytes);
  }
}

void ModelPool::submit(JobPtr job) {
  if (!accepting_) fail_request(503, "the daemon is shutting down");
  if (!ready()) {
    fail_request(503, "model '{}' is not ready ({} of {} workers ready)", model_.name,
                 ready_workers(), workers_.size());
  }
  if (queue_.size() >= model_.max_queue) {
    fail_request(503, "model '{}' has {} jobs queued, its max_queue; try again later", model_.name,
                 queue_.size());
  }
  check_fits(*job);
  queue_.push_back(std::move(job));
  pump();
}

void ModelPool::pump() {
  while (!queue_.empty()) {
    std::vector<WorkerLoad> loads;
    loads.reserve(workers_.size());
    for (const auto& worker : workers_) {
      loads.push_back({worker && worker->accepting(), worker ? worker->outstanding() : 0,
                       static_cast<std::size_t>(model_.max_inflight_per_worker)});
    }
    const auto chosen = pick_worker(loads);
    if (!chosen) return;
    JobPtr& job = queue_.front();
    try {
      if (workers_[*chosen]->dispatch(job) == Worker::Dispatch::kNoRoom) continue;
    } catch (const HttpError& error) {
      job->complete(error_reply(error.status(), error.what()));
    }
    queue_.pop_front();
  }
}

std::size_t ModelPool::poll() {
  std::size_t handled = 0;
  for (auto& worker : workers_) {
    if (worker) handled += worker->poll();
  }
  return handled;
}

std::chrono::nanoseconds ModelPool::answer_spin(std::chrono::nanoseconds cap) const noexcept {
  std::chrono::nanoseconds longest{0};
  for (const auto& worker : workers_) {
    if (!worker || worker->outstanding() == 0) continue;
    const auto expected = worker->typical_job_time() * 3 / 2 + std::chrono::microseconds(20);
    // A model slower than the cap is not worth a spinning core: park and let the eventfd wake us.
    if (expected <= cap) longest = std::max(longest, expected);
  }
  return longest;
}

bool ModelPool::arm_parking() noexcept {
  for (auto& worker : workers_) {
    if (worker && !worker->arm_parking()) return false;
  }
  return true;
}

void ModelPool::disarm_parking() noexcept {
  for (auto& worker : workers_) {
    if (worker) worker->disarm_parking();
  }
}

void ModelPool::shutdown(std::chrono::milliseconds timeout) {
  shutting_down_ = true;
  accepting_ = false;
  for (auto& timer : respawn_timers_)
    timer->cancel();
  while (!queue_.empty()) {
    queue_.front()->complete(error_reply(503, "the daemon is shutting down"));
    queue_.pop_front();
  }
  for (auto& worker : workers_) {
    if (worker) worker->request_shutdown(timeout);
  }
}

void ModelPool::on_worker_ready(Worker& worker) {
  respawn_backoff_[worker.identity().instance] = kFirstRespawnDelay;
  if (!started_ && ready_workers() == workers_.size()) {
    started_ = true;
    events_.on_pool_ready(*this);
  }
  events_.on_pool_changed(*this);
  pump();
}

void ModelPool::on_worker_capacity(Worker&) {
  pump();
}

void ModelPool::on_worker_exit(Worker& worker, const std::string& reason) {
  const int instance = worker.identity().instance;
  if (!started_ && !shutting_down_) {
    events_.on_pool_startup_failed(
        *this, fmt::format("model '{}' worker {}: {}", model_.name, instance, reason));
    return;
  }
  if (shutting_down_) {
    events_.on_pool_changed(*this);
    return;
  }
  // The Worker object is inside its own callback: retire it now, free it later.
  const DeviceSpec device = workers_[instance]->identity().device;
  retired_.push_back(std::move(workers_[instance]));
  boost::asio::post(io_, [this] { retired_.clear(); });
  respawn_later(instance, device);
  events_.on_pool_changed(*this);
}

void ModelPool::respawn_later(int instance, const DeviceSpec& device) {
  auto& delay = respawn_backoff_[instance];
  spdlog::warn("model '{}' worker {}: respawning in {} ms", model_.name, instance, delay.count());
  auto& timer = *respawn_timers_[instance];
  timer.expires_after(delay);
  delay = std::min(delay * 2, kMaxRespawnDelay);
  timer.async_wait([this, instance, device](const boost::system::error_code& ec) {
    if (ec || shutting_down_) return;
    auto worker = make_worker(instance, device);
    try {
      worker->start();
      workers_[instance] = std::move(worker);
    } catch (const std::exception& error) {
      spdlog::error("model '{}' worker {}: respawn failed: {}", model_.name, instance,
                    error.what());
      worker.reset();  // its segment and eventfd go now (this is not one of its own callbacks)
      respawn_later(instance, device);
    }
  });
}

}  // namespace infervisor::supervisor
