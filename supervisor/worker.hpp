// The supervisor's handle on one worker process: its shared-memory channel, the child process,
// and the jobs it has in flight. Everything happens on the daemon's event loop thread: the
// worker's exit arrives through a pidfd and its answers through the response ring, announced by
// an eventfd when the loop is parked (and found by polling while it spins).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "common/child_process.hpp"
#include "common/unique_fd.hpp"
#include "shm/channel.hpp"
#include "supervisor/config.hpp"
#include "supervisor/job.hpp"

namespace infervisor::supervisor {

struct WorkerIdentity {
  int instance = 0;  // 0-based within the model, stable across respawns
  DeviceSpec device;
  int threads = 1;
  std::uint64_t generation = 0;  // unique per spawn; the segment carries it
  int interop_threads = 1;
};

class Worker {
 public:
  enum class State { kStarting, kReady, kStopping, kExited };

  // What the owner (the model's pool) hears from its workers.
  class Events {
   public:
    virtual ~Events() = default;
    virtual void on_worker_ready(Worker& worker) = 0;
    // Answers arrived: the worker has room again.
    virtual void on_worker_capacity(Worker& worker) = 0;
    // The process is gone (and reaped); `reason` says how, for logs and replies.
    virtual void on_worker_exit(Worker& worker, const std::string& reason) = 0;
  };

  Worker(boost::asio::io_context& io, const DaemonConfig& config, const ModelConfig& model,
         WorkerIdentity identity, Events& events);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();

  // Creates the segment and the eventfd, spawns the process, and starts watching it.
  // Throws InfervisorError if any of that fails.
  void start();

  State state() const noexcept { return state_; }
  const WorkerIdentity& identity() const noexcept { return identity_; }
  pid_t pid() const noexcept { return process_.pid(); }
  std::size_t outstanding() const noexcept { return inflight_.size(); }
  // How long its recent jobs took from dispatch to answer (a moving average); zero before any.
  std::chrono::nanoseconds typical_job_time() const noexcept { return typical_job_time_; }
  bool accepting() const noexcept { return state_ == State::kReady && !ring_full_ && !broken_; }
  // "model 'mlp' worker 1 (pid 4242)", for logs.
  std::string describe() const;

  enum class Dispatch { kSent, kNoRoom };
  // Writes the job's request frame into the ring. kNoRoom: the ring is full now (the job stays
  // with the caller). A job that can never fit throws HttpError 413.
  Dispatch dispatch(const JobPtr& job);

  // Handles every record waiting in the response ring. Returns how many.
  std::size_t poll();

  // Sends the SHUTDOWN sentinel (after every job already written) and starts the kill timer.
  void request_shutdown(std::chrono::milliseconds timeout);

  // Around a blocking wait of the event loop: announce it to the worker (false: an answer is
  // already waiting, so do not block), and take it back.
  bool arm_parking() noexcept;
  void disarm_parking() noexcept;

 private:
  void spawn();
  void send_sentinel();
  void watch_wakeups();
  void watch_exit();
  bool room_made() const noexcept;  // the request ring was full, and the worker has read since
  void handle_record(const shm::RecordView& record);
  void handle_answer(const shm::RecordView& record);
  void on_process_exit();
  void fail_inflight(unsigned status, const std::string& reason);
  void kill_for(const std::string& reason);

  boost::asio::io_context& io_;
  const DaemonConfig& config_;
  const ModelConfig& model_;
  WorkerIdentity identity_;
  Events& events_;

  State state_ = State::kStarting;
  UniqueFd wakeup_fd_;  // eventfd the worker writes when this side is parked
  std::optional<shm::SupervisorChannel> channel_;
  ChildProcess process_;
  boost::asio::posix::stream_descriptor wakeup_watch_;
  boost::asio::posix::stream_descriptor exit_watch_;
  boost::asio::steady_timer timer_;  // startup deadline, then the shutdown kill deadline
  struct InFlight {
    JobPtr job;
    std::chrono::steady_clock::time_point dispatched;
  };
  std::unordered_map<std::uint64_t, InFlight> inflight_;
  std::chrono::nanoseconds typical_job_time_{0};
  bool ring_full_ = false;
  std::uint64_t full_at_position_ = 0;  // the worker's read position when the ring was full
  bool sentinel_pending_ = false;       // shutdown requested, but the request ring had no room yet
  bool broken_ = false;                 // being killed for misbehaving; its exit is on the way
  bool parked_ = false;
  bool parked_for_room_ = false;
  std::string failure_;  // what the worker said (startup ERROR) or what we saw (corrupt ring)
  std::chrono::steady_clock::time_point spawned_at_;
};

}  // namespace infervisor::supervisor
