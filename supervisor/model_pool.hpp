// One model's workers and its queue of jobs: admission (413/503), FIFO dispatch to the worker with
// the fewest outstanding jobs, respawn of workers that die after start-up, and the drain at
// shutdown.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "supervisor/config.hpp"
#include "supervisor/job.hpp"
#include "supervisor/worker.hpp"

namespace infervisor::supervisor {

class ModelPool final : public Worker::Events {
 public:
  // What the daemon hears from a pool.
  class Events {
   public:
    virtual ~Events() = default;
    virtual void on_pool_ready(ModelPool& pool) = 0;
    // A worker failed before the model was first ready: the daemon's start-up fails.
    virtual void on_pool_startup_failed(ModelPool& pool, const std::string& reason) = 0;
    virtual void on_pool_changed(ModelPool& pool) = 0;  // workers or load changed (STATUS=)
  };

  // `next_generation` hands out segment generations unique across the daemon.
  ModelPool(boost::asio::io_context& io, const DaemonConfig& config, const ModelConfig& model,
            unsigned cores, std::function<std::uint64_t()> next_generation, Events& events);
  ModelPool(const ModelPool&) = delete;
  ModelPool& operator=(const ModelPool&) = delete;
  ~ModelPool() override;

  void start();  // spawns every instance; throws InfervisorError if a spawn fails outright

  const ModelConfig& model() const noexcept { return model_; }
  bool ready() const noexcept { return ready_workers() > 0; }
  std::size_t ready_workers() const noexcept;
  std::size_t worker_count() const noexcept { return workers_.size(); }
  std::size_t queued() const noexcept { return queue_.size(); }
  std::size_t in_flight() const noexcept;
  bool idle() const noexcept { return queue_.empty() && in_flight() == 0; }
  bool all_exited() const noexcept;

  // Queues the job (or throws HttpError: 503 not ready / queue full / shutting down, 413 too big).
  void submit(JobPtr job);

  std::size_t poll();  // every worker's responses
  // How long the daemon should keep polling for an answer before it parks: about the typical
  // job time of a worker with jobs in flight (plus a margin), at most `cap`; zero if none is busy.
  std::chrono::nanoseconds answer_spin(std::chrono::nanoseconds cap) const noexcept;
  bool arm_parking() noexcept;
  void disarm_parking() noexcept;

  // Stop taking jobs; the queue and the jobs in flight still finish.
  void stop_accepting() noexcept { accepting_ = false; }
  // Sentinels to every worker; no respawns from now on. Queued jobs left get 503.
  void shutdown(std::chrono::milliseconds timeout);

 private:
  void on_worker_ready(Worker& worker) override;
  void on_worker_capacity(Worker& worker) override;
  void on_worker_exit(Worker& worker, const std::string& reason) override;

  std::unique_ptr<Worker> make_worker(int instance, const DeviceSpec& device);
  void pump();
  void respawn_later(int instance, const DeviceSpec& device);
  void check_fits(const Job& job) const;

  boost::asio::io_context& io_;
  const DaemonConfig& config_;
  const ModelConfig& model_;
  unsigned cores_;
  std::function<std::uint64_t()> next_generation_;
  Events& events_;

  std::vector<std::unique_ptr<Worker>> workers_;  // index = instance
  std::vector<std::unique_ptr<boost::asio::steady_timer>> respawn_timers_;
  std::vector<std::chrono::milliseconds> respawn_backoff_;
  std::vector<std::unique_ptr<Worker>> retired_;  // exited workers, freed outside their callbacks
  std::deque<JobPtr> queue_;
  bool accepting_ = true;
  bool started_ = false;  // every worker has been ready once
  bool shutting_down_ = false;
};

}  // namespace infervisor::supervisor
