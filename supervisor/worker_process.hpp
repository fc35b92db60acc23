// The daemon's handle on one worker process: the child, its shared-memory channel and its stderr.
// It writes request frames into the request ring and hands every record the worker answers with
// to its owner; it knows nothing of jobs beyond their ids (the owner's InFlightTable holds them)
// nor of HTTP (job_answer.hpp encodes replies).
//
// Everything happens on the daemon's event loop thread: the worker's exit arrives through a
// pidfd, its answers through the response ring, announced by an eventfd when the loop is parked
// (and found by polling while it spins).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "common/child_process.hpp"
#include "common/unique_fd.hpp"
#include "shm/channel.hpp"
#include "supervisor/config.hpp"
#include "supervisor/job.hpp"
#include "supervisor/worker_stderr.hpp"

namespace infervisor::supervisor {

struct WorkerIdentity {
  int instance = 0;  // 0-based within the model, stable across respawns
  DeviceSpec device;
  int threads = 1;
  std::uint64_t generation = 0;  // unique per spawn; the segment carries it
  int interop_threads = 1;
};

// How a worker process ended, for its owner's restart policy and for messages.
struct WorkerExit {
  std::string reason;  // "killed by signal 9 (Killed)", with what the worker or the daemon said
  bool clean = false;  // exited 0 after a shutdown request
  // The daemon killed it on purpose (a job deadline, recycling, shutdown): not the model's fault.
  bool caused_by_daemon = false;
  std::optional<std::chrono::steady_clock::time_point> ready_since;
  std::string stderr_tail;  // its last lines on stderr
};

class WorkerProcess {
 public:
  enum class State { kStarting, kReady, kStopping, kExited };

  // What the owner (the model's pool) hears from its workers.
  class Events {
   public:
    virtual ~Events() = default;
    virtual void on_worker_ready(WorkerProcess& worker) = 0;
    // A RESPONSE or ERROR record for a job (job_id != 0). The record is valid during the call.
    virtual void on_worker_answer(WorkerProcess& worker, const shm::RecordView& answer) = 0;
    // The worker has room again (answers arrived, or its full request ring was read).
    virtual void on_worker_capacity(WorkerProcess& worker) = 0;
    // The process is gone (and reaped), every answer it wrote already delivered.
    virtual void on_worker_exit(WorkerProcess& worker, const WorkerExit& exit) = 0;
  };

  WorkerProcess(boost::asio::io_context& io, const DaemonConfig& config, const ModelConfig& model,
                WorkerIdentity identity, Events& events);
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;
  ~WorkerProcess();

  // Creates the segment, the eventfd and the stderr pipe, spawns the process, and starts watching
  // it. Throws InfervisorError if any of that fails.
  void start();

  State state() const noexcept { return state_; }
  const WorkerIdentity& identity() const noexcept { return identity_; }
  pid_t pid() const noexcept { return process_.pid(); }
  std::optional<std::chrono::steady_clock::time_point> ready_since() const noexcept {
    return ready_since_;
  }
  // Ready and neither being retired nor killed: it counts toward the model's readiness.
  bool serving() const noexcept { return state_ == State::kReady && !broken_ && !retiring_; }
  // Ready, alive, not being retired or killed, and its request ring had room at last look.
  bool accepting() const noexcept {
    return state_ == State::kReady && !ring_full_ && !broken_ && !retiring_;
  }
  // "model 'mlp' worker 1 (pid 4242)", for logs.
  std::string describe() const;

  enum class Dispatch { kSent, kNoRoom };
  // Writes the job's request frame into the ring. kNoRoom: the ring is full now (the job stays
  // with the caller). A job that can never fit throws HttpError 413.
  Dispatch write_request(const Job& job);
  // Writes one request frame for a dynamic batch (batch_frame.hpp), under the lead job's id.
  Dispatch write_batch(std::span<const JobPtr> jobs);

  // Handles every record waiting in the response ring. Returns how many.
  std::size_t poll();

  // No new jobs from now on (it is being replaced); the jobs it has still finish.
  void retire() noexcept { retiring_ = true; }
  bool retiring() const noexcept { return retiring_; }
  // Sends the SHUTDOWN sentinel (after every job already written) and starts the kill timer.
  void request_shutdown(std::chrono::milliseconds timeout);
  // No job uses client region `token` any more: tell the worker to unmap it (if it mapped it;
  // queued until its request ring has room).
  void release_region(std::uint64_t token);
  // SIGKILL. `by_daemon`: a kill the daemon decided on (deadline, recycling), which the restart
  // policy does not count against the model.
  void kill(const std::string& reason, bool by_daemon);

  // Anonymous resident memory (RssAnon in /proc/PID/status), bytes; nullopt if unreadable.
  std::optional<std::uint64_t> anonymous_rss() const;
  // Device memory its allocator holds, as the worker last reported it (a GPU worker reports after
  // each job); nullopt for a CPU worker or before the channel exists.
  std::optional<std::uint64_t> device_memory_bytes() const noexcept {
    if (!channel_ || identity_.device.kind != DeviceSpec::Kind::kCuda) return std::nullopt;
    return channel_->segment.reported_device_bytes();
  }
  // {bytes in use, capacity} of its request ring; {0, 0} before the channel exists.
  std::pair<std::uint64_t, std::uint64_t> request_ring_usage() const noexcept {
    if (!channel_) return {0, 0};
    return {channel_->requests.bytes_in_use(), channel_->requests.capacity()};
  }

  // Around a blocking wait of the event loop: announce it to the worker (false: an answer is
  // already waiting, so do not block), and take it back.
  bool arm_parking() noexcept;
  void disarm_parking() noexcept;

 private:
  void spawn();
  // A request record of `bytes`, or nullopt: the ring is full (or corrupt: the worker is killed).
  std::optional<shm::Reservation> reserve(std::uint64_t job_id, std::uint64_t bytes);
  void send_sentinel();
  void send_releases();
  void watch_wakeups();
  void watch_exit();
  bool room_made() const noexcept;  // the request ring was full, and the worker has read since
  void handle_record(const shm::RecordView& record);
  void on_process_exit();

  boost::asio::io_context& io_;
  const DaemonConfig& config_;
  const ModelConfig& model_;
  WorkerIdentity identity_;
  Events& events_;

  State state_ = State::kStarting;
  UniqueFd wakeup_fd_;  // eventfd the worker writes when this side is parked
  std::optional<shm::SupervisorChannel> channel_;
  WorkerStderr stderr_;
  ChildProcess process_;
  boost::asio::posix::stream_descriptor wakeup_watch_;
  boost::asio::posix::stream_descriptor exit_watch_;
  boost::asio::steady_timer timer_;  // startup deadline, then the shutdown kill deadline
  bool ring_full_ = false;
  std::uint64_t full_at_position_ = 0;  // the worker's read position when the ring was full
  bool sentinel_pending_ = false;       // shutdown requested, but the request ring had no room yet
  std::vector<std::uint64_t> pending_releases_;  // region tokens not yet sent to the worker
  bool broken_ = false;                          // being killed; its exit is on the way
  bool killed_by_daemon_ = false;
  bool retiring_ = false;
  bool exiting_ = false;  // its exit was seen; the last answers are being read
  bool parked_ = false;
  bool parked_for_room_ = false;
  std::string failure_;  // what the worker said (startup ERROR) or why we killed it
  std::chrono::steady_clock::time_point spawned_at_;
  std::optional<std::chrono::steady_clock::time_point> ready_since_;
};

}  // namespace infervisor::supervisor
