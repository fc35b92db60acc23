// One model's workers and its jobs: admission, the FIFO queue, dispatch to the worker with the
// fewest outstanding jobs, and supervision (issue 7). The promise it keeps: every job it accepts
// gets exactly one answer, whatever its workers do.
//
//  - A worker that dies: its jobs in flight are dispatched again (`on_worker_death: retry`) or
//    answered 500 naming the worker and how it died (`fail`). A retried job runs alone on its
//    worker, so an input that kills every worker it lands on fails alone after
//    `max_job_retries` retries, and the innocent jobs that were beside it succeed.
//  - Jobs wait in the queue while no worker is ready (a replacement is coming) for at most
//    `queue_timeout` (then 503 with Retry-After); every job has a deadline (`job_timeout`, or the
//    client's `timeout` if sooner: 504). A worker still running a job past `job_timeout` is killed
//    and replaced; its other jobs run again without counting as deaths.
//  - Dead workers are replaced by the restart policy (restart_policy.hpp); too many deaths mark
//    the model FAILED: its workers stop and its queue is answered 503 with the reason.
//  - Recycling (`max_jobs_per_worker`, `max_worker_rss`, a repository load of a READY model)
//    replaces a worker without failing a job: start the replacement first, or drain first.
//
// Everything runs on the daemon's event loop thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "supervisor/config.hpp"
#include "supervisor/http_reply.hpp"
#include "supervisor/inflight_table.hpp"
#include "supervisor/job.hpp"
#include "supervisor/model_statistics.hpp"
#include "supervisor/restart_policy.hpp"
#include "supervisor/worker_process.hpp"

namespace infervisor::supervisor {

// Bytes of request bodies held by queued jobs, across every model (`max_queued_bytes`).
struct QueuedBytes {
  std::uint64_t limit = 1ull << 30;
  std::uint64_t used = 0;
};

class ModelPool final : public WorkerProcess::Events {
 public:
  // The model's state as the repository index shows it.
  enum class Status { kLoading, kReady, kFailed, kUnloading, kUnavailable };
  static std::string_view status_name(Status status) noexcept;

  // What the daemon hears from a pool.
  class Events {
   public:
    virtual ~Events() = default;
    // Every worker of the model reported READY (after start or a repository load).
    virtual void on_pool_ready(ModelPool& pool) = 0;
    // The model is FAILED; `during_startup`: it never was ready since the daemon started.
    virtual void on_pool_failed(ModelPool& pool, const std::string& reason,
                                bool during_startup) = 0;
    virtual void on_pool_changed(ModelPool& pool) = 0;  // workers or load changed (STATUS=)
  };

  // `next_generation` hands out segment generations unique across the daemon.
  ModelPool(boost::asio::io_context& io, const DaemonConfig& config, const ModelConfig& model,
            unsigned cores, std::function<std::uint64_t()> next_generation,
            QueuedBytes& queued_bytes, Events& events);
  ModelPool(const ModelPool&) = delete;
  ModelPool& operator=(const ModelPool&) = delete;
  ~ModelPool() override;

  void start();  // spawns every instance; throws InfervisorError if a spawn fails outright

  const ModelConfig& model() const noexcept { return model_; }
  Status status() const noexcept { return status_; }
  // Why the model is FAILED (with its dead worker's last words), or empty.
  const std::string& failure() const noexcept { return failure_; }
  // At least one worker is ready and the model is loaded.
  bool ready() const noexcept { return status_ == Status::kReady && ready_workers() > 0; }
  std::size_t ready_workers() const noexcept;
  std::size_t worker_count() const noexcept { return instances_.size(); }
  std::size_t queued() const noexcept { return queue_.size() + retry_.size(); }
  std::size_t in_flight() const noexcept;
  bool idle() const noexcept { return queued() == 0 && in_flight() == 0; }
  bool all_exited() const noexcept { return members_.empty(); }

  // Queues the job, or throws HttpError: 503 FAILED or unloaded model / queue full / byte budget
  // / shutting down, 413 too big, 400 bad frame.
  void submit(JobPtr job);

  // Triton's repository extension. load: start a FAILED or unloaded model, or replace a READY
  // model's workers one at a time with fresh ones (which load the model file again). unload:
  // drain and stop it. `done` is called once, when that is over (or refused).
  void load(std::function<void(HttpReply)> done);
  void unload(std::function<void(HttpReply)> done);

  std::size_t poll();  // every worker's responses
  // How long the daemon should keep polling for an answer before it parks: about the typical
  // job time of a worker with jobs in flight (plus a margin), at most `cap`; zero if none is busy.
  std::chrono::nanoseconds answer_spin(std::chrono::nanoseconds cap) const noexcept;
  bool arm_parking() noexcept;
  void disarm_parking() noexcept;

  // Sentinels to every worker; no respawns from now on. Queued jobs left get 503.
  void shutdown(std::chrono::milliseconds timeout);

  // No job uses client region `token` any more: every worker may unmap it.
  void release_region(std::uint64_t token);

  // Every request's outcome and times (the router records them as answers go out).
  const std::shared_ptr<ModelStatistics>& statistics() const noexcept { return statistics_; }
  struct WorkerSummary {
    int instance = 0;
    std::string state;  // STARTING, READY, STOPPING, EXITED, or RESPAWNING between two processes
    std::uint64_t restarts = 0;  // processes started for the slot after its first
    std::uint64_t deaths = 0;    // its processes that died on their own
    std::uint64_t stops = 0;     // that the daemon stopped (deadline, recycling, load, shutdown)
    pid_t pid = 0;               // 0 while none runs
    std::optional<std::uint64_t> anonymous_rss;     // of the running process
    std::optional<std::uint64_t> gpu_memory_bytes;  // a GPU worker's allocator, as it reports
    std::uint64_t ring_bytes_in_use = 0;
    std::uint64_t ring_capacity = 0;
  };
  std::vector<WorkerSummary> worker_summaries() const;

 private:
  // One worker process and the jobs it has been given.
  struct Member {
    std::unique_ptr<WorkerProcess> process;
    InFlightTable inflight;
    int instance = 0;
  };
  // A worker slot of the model: its device, its pending respawn, its recycling.
  struct Instance {
    DeviceSpec device;
    std::unique_ptr<boost::asio::steady_timer> respawn_timer;
    bool respawn_pending = false;
    bool recycling = false;  // a replacement is under way
    std::uint64_t spawned = 0;
    std::uint64_t deaths = 0;
    std::uint64_t stops = 0;
  };

  void on_worker_ready(WorkerProcess& worker) override;
  void on_worker_answer(WorkerProcess& worker, const shm::RecordView& answer) override;
  void on_worker_capacity(WorkerProcess& worker) override;
  void on_worker_exit(WorkerProcess& worker, const WorkerExit& exit) override;

  Member* find(const WorkerProcess& worker) noexcept;
  Member* serving_member(int instance) noexcept;  // the live, non-retiring one
  void spawn(int instance);
  void respawn_later(int instance, std::chrono::milliseconds delay);
  void handle_orphans(std::vector<InFlightTable::Entry> entries, const Member& member,
                      const WorkerExit& exit);
  void pump();
  bool send(Member& member, const JobPtr& job, bool exclusive);
  bool send_batch(Member& member, std::span<const JobPtr> jobs, std::int64_t rows);
  // Dynamic batching: sends the batch the front of the queue leads to `member`, or, when it is not
  // due yet, arms the batch timer and returns false.
  bool dispatch_batch(Member& member);
  // Whether `member`'s device may run `job` (a job in CUDA regions runs on their GPU only).
  bool suits(const Member& member, const Job& job) const noexcept;
  // How many GPU-bound jobs one pump may pass over while their GPU's workers are busy: bounds the
  // scan of a long queue.
  static constexpr std::size_t kMaxPassedOver = 64;
  // pump()'s scratch: per member, whether a waiting retried job may run on it.
  std::vector<bool> held_for_retry_;
  void arm_batch_timer(std::chrono::steady_clock::time_point when);
  void answer_batch(InFlightTable::Entry& entry, const shm::RecordView& answer,
                    const std::string& worker);
  void enqueue_front(const JobPtr& job);
  void release_bytes(const Job& job) noexcept;
  // Checks that the job's frame fits the ring (and a batching model's rows) and keeps its plan.
  void plan_frame(Job& job) const;
  void fail_model(const std::string& reason);
  void answer_queued(unsigned status, const std::string& reason);
  void stop_members(std::chrono::milliseconds timeout);
  void begin_recycle(int instance, const std::string& why);
  void finish_recycle(int instance);
  void retire_if_drained(Member& member);
  void next_rolling_load();
  void maybe_finish_unload();
  void start_loading();
  void reply_loaders(const HttpReply& reply);

  // Deadlines: one timer for the earliest of every queued and running job's.
  void arm_deadline(std::chrono::steady_clock::time_point when);
  void check_deadlines();
  void watch_memory();

  boost::asio::io_context& io_;
  const DaemonConfig& config_;
  const ModelConfig& model_;
  const SupervisionPolicy& policy_;
  unsigned cores_;
  std::function<std::uint64_t()> next_generation_;
  QueuedBytes& queued_bytes_;
  Events& events_;

  Status status_ = Status::kLoading;
  std::string failure_;
  std::vector<Instance> instances_;
  std::shared_ptr<ModelStatistics> statistics_ = std::make_shared<ModelStatistics>();
  std::vector<std::unique_ptr<Member>> members_;  // live processes, retiring ones included
  std::vector<std::unique_ptr<Member>> retired_;  // exited, freed outside their callbacks
  RestartPolicy restart_;
  std::deque<JobPtr> queue_;
  std::deque<JobPtr> retry_;  // jobs whose worker died running them: first, one per worker
  boost::asio::steady_timer deadline_timer_;
  std::chrono::steady_clock::time_point deadline_armed_ =
      std::chrono::steady_clock::time_point::max();
  boost::asio::steady_timer memory_timer_;
  boost::asio::steady_timer batch_timer_;  // the queue's lead job has waited max_queue_delay
  bool batch_timer_armed_ = false;
  std::chrono::steady_clock::time_point batch_timer_at_{};
  std::vector<std::function<void(HttpReply)>> load_waiters_;
  std::vector<std::function<void(HttpReply)>> unload_waiters_;
  std::deque<int> rolling_;       // instances a repository load of a READY model still replaces
  bool starting_up_ = true;       // since the daemon started: not yet READY or FAILED once
  bool spawn_when_gone_ = false;  // a load waits for the old workers to exit
  bool shutting_down_ = false;
};

}  // namespace infervisor::supervisor
