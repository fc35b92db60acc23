#include "supervisor/worker_process.hpp"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <charconv>
#include <csignal>
#include <fstream>

#include "shm/frame.hpp"
#include "supervisor/batch_frame.hpp"
#include "supervisor/http_reply.hpp"
#include "supervisor/request_layout.hpp"
#include "supervisor/worker_command.hpp"

namespace infervisor::supervisor {

WorkerProcess::WorkerProcess(boost::asio::io_context& io, const DaemonConfig& config,
                             const ModelConfig& model, WorkerIdentity identity, Events& events)
    : io_(io),
      config_(config),
      model_(model),
      identity_(identity),
      events_(events),
      stderr_(io, [this] { return describe(); }),
      wakeup_watch_(io),
      exit_watch_(io),
      timer_(io) {}

WorkerProcess::~WorkerProcess() {
  // The descriptors belong to wakeup_fd_ and process_; the watches must not close them too.
  if (wakeup_watch_.is_open()) wakeup_watch_.release();
  if (exit_watch_.is_open()) exit_watch_.release();
}

std::string WorkerProcess::describe() const {
  return fmt::format("model '{}' worker {} (pid {})", model_.name, identity_.instance, pid());
}

void WorkerProcess::start() {
  try {
    spawn();
  } catch (...) {
    // Nothing will report this worker's exit: it counts as exited (a child spawned before the
    // failure is killed and reaped by ~ChildProcess).
    state_ = State::kExited;
    throw;
  }
}

void WorkerProcess::spawn() {
  const shm::SegmentLayout layout{model_.ring_bytes, model_.ring_bytes};
  auto channel = shm::SupervisorChannel::create(config_.shm_prefix, layout, identity_.generation);
  if (!channel) {
    throw InfervisorError(channel.error().code,
                          fmt::format("model '{}' worker {}: {}", model_.name, identity_.instance,
                                      channel.error().message));
  }
  channel_.emplace(std::move(*channel));
  wakeup_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wakeup_fd_) throw InfervisorError(system_error("eventfd"));

  stderr_.open();

  const WorkerCommand command{config_, model_, identity_, channel_->segment.name(),
                              wakeup_fd_.get()};
  SpawnOptions options;
  options.environment = command.environment();
  options.inherit_fds = {wakeup_fd_.get()};
  options.stderr_fd = stderr_.child_end();
  options.own_process_group = true;  // Ctrl-C in a terminal reaches the daemon, which drains
  process_ = ChildProcess::spawn(command.executable(), command.arguments(), options);
  stderr_.child_spawned();
  spawned_at_ = std::chrono::steady_clock::now();
  spdlog::info("{}: spawned on {}{} with {} intra-op and {} inter-op thread(s), segment {}",
               describe(), identity_.device.to_string(),
               identity_.device.gpu_uuid.empty() ? "" : " (" + identity_.device.gpu_uuid + ")",
               identity_.threads, identity_.interop_threads, channel_->segment.name());

  wakeup_watch_.assign(wakeup_fd_.get());
  exit_watch_.assign(process_.pidfd());
  watch_wakeups();
  watch_exit();
  timer_.expires_after(config_.startup_timeout);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || state_ != State::kStarting) return;
    kill(fmt::format("did not report READY within {} ms", config_.startup_timeout.count()),
         /*by_daemon=*/false);
  });
}

void WorkerProcess::watch_wakeups() {
  wakeup_watch_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                           [this](const boost::system::error_code& ec) {
                             if (ec) return;
                             std::uint64_t count = 0;
                             // Resets the counter; EAGAIN just means another reader got there.
                             [[maybe_unused]] auto n =
                                 ::read(wakeup_fd_.get(), &count, sizeof(count));
                             poll();
                             if (state_ != State::kExited) watch_wakeups();
                           });
}

void WorkerProcess::watch_exit() {
  exit_watch_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                         [this](const boost::system::error_code& ec) {
                           if (!ec) on_process_exit();
                         });
}

std::optional<shm::Reservation> WorkerProcess::reserve(std::uint64_t job_id, std::uint64_t bytes) {
  auto reservation = channel_->requests.try_reserve(shm::RecordType::kRequest, job_id, bytes);
  if (!reservation) {
    if (reservation.error().code == ErrorCode::kTooLarge) {
      throw HttpError(413, fmt::format("the job's tensors need {} bytes but model '{}' takes at "
                                       "most {} bytes per job (its ring_size)",
                                       bytes, model_.name, channel_->requests.max_payload_bytes()));
    }
    kill(reservation.error().message, /*by_daemon=*/false);
    return std::nullopt;
  }
  if (!*reservation) {
    // Look again once the worker has released anything. (With no job in flight the ring may hold
    // only the wrap padding try_reserve just published, and no answer would say when it is gone.)
    ring_full_ = true;
    // (The position try_reserve saw, not a fresh one: the worker may already have read the
    // padding, and that must count as room.)
    full_at_position_ = channel_->requests.consumer_position_seen();
    return std::nullopt;
  }
  return **reservation;
}

WorkerProcess::Dispatch WorkerProcess::write_request(const Job& job) {
  // (Admission made the plan: ModelPool::plan_frame.)
  if (!job.frame_plan()) throw HttpError(500, "internal error: the job was never admitted");
  const InferRequest& request = job.request();
  const auto layout = request_layout(request);
  const shm::FramePlan& plan = *job.frame_plan();
  const auto reservation = reserve(job.id(), plan.total_bytes);
  if (!reservation) return Dispatch::kNoRoom;
  const auto payloads =
      shm::write_frame(reservation->payload, plan, shm::FrameKind::kRequest, job.id(), model_.name,
                       layout.inputs, layout.outputs, layout.frame_regions());
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    // (An input in a client's region has no payload here: the worker reads the region.)
    if (!payloads[i].empty())
      std::memcpy(payloads[i].data(), request.inputs[i].data.data(), payloads[i].size());
  }
  channel_->requests.commit(*reservation);
  return Dispatch::kSent;
}

WorkerProcess::Dispatch WorkerProcess::write_batch(std::span<const JobPtr> jobs) {
  const auto layout = batch_layout(jobs);
  const auto plan = shm::plan_frame(model_.name, layout.inputs, layout.outputs);
  if (!plan) throw HttpError(400, plan.error().message);
  // The record carries the lead job's id; the pool knows the rest.
  const std::uint64_t id = jobs.front()->id();
  const auto reservation = reserve(id, plan->total_bytes);
  if (!reservation) return Dispatch::kNoRoom;
  const auto payloads = shm::write_frame(reservation->payload, *plan, shm::FrameKind::kRequest, id,
                                         model_.name, layout.inputs, layout.outputs);
  write_batch_inputs(jobs, payloads);
  channel_->requests.commit(*reservation);
  return Dispatch::kSent;
}

bool WorkerProcess::room_made() const noexcept {
  return ring_full_ && channel_->requests.consumer_position() != full_at_position_;
}

std::size_t WorkerProcess::poll() {
  if (!channel_ || state_ == State::kExited) return 0;
  std::size_t handled = 0;
  while (true) {
    auto record = channel_->responses.try_peek();
    if (!record) {
      kill(fmt::format("wrote a corrupt response ring: {}", record.error().message),
           /*by_daemon=*/false);
      break;
    }
    if (!*record) break;
    handle_record(**record);
    channel_->responses.release(**record);
    ++handled;
  }
  // (Not while its exit is being handled: a dead worker's ring must get no new job.)
  if ((handled > 0 || room_made()) && state_ == State::kReady && !exiting_) {
    ring_full_ = false;
    events_.on_worker_capacity(*this);
  }
  if (!pending_releases_.empty() && handled > 0 && state_ != State::kStopping) send_releases();
  if (sentinel_pending_ && handled > 0) send_sentinel();
  return handled;
}

void WorkerProcess::handle_record(const shm::RecordView& record) {
  switch (record.type) {
    case shm::RecordType::kReady:
      if (state_ == State::kStarting) {
        state_ = State::kReady;
        ready_since_ = std::chrono::steady_clock::now();
        timer_.cancel();
        const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - spawned_at_);
        spdlog::info("{}: ready in {} ms ({})", describe(), elapsed.count(),
                     std::string_view(reinterpret_cast<const char*>(record.payload.data()),
                                      std::min<std::size_t>(record.payload.size(), 512)));
        events_.on_worker_ready(*this);
      }
      return;
    case shm::RecordType::kShutdownAck:
      spdlog::info("{}: acknowledged shutdown", describe());
      return;
    case shm::RecordType::kResponse:
    case shm::RecordType::kError:
      if (record.type == shm::RecordType::kError && record.job_id == 0) {
        // Not about a job: why the worker cannot go on (e.g. its model failed to load).
        const auto error = shm::decode_error_payload(record.payload);
        failure_ = error ? std::string(error->message) : error.error().message;
        spdlog::error("{}: {}", describe(), failure_);
        return;
      }
      events_.on_worker_answer(*this, record);
      return;
    default:
      kill(fmt::format("sent a {} record, which workers never send",
                       shm::record_type_name(record.type)),
           /*by_daemon=*/false);
  }
}

void WorkerProcess::request_shutdown(std::chrono::milliseconds timeout) {
  if (state_ == State::kExited || state_ == State::kStopping) return;
  if (!process_.running()) {
    state_ = State::kExited;  // never started: start-up failed before reaching it
    return;
  }
  state_ = State::kStopping;
  sentinel_pending_ = true;
  send_sentinel();
  timer_.expires_after(timeout);
  timer_.async_wait([this, timeout](const boost::system::error_code& ec) {
    if (ec || state_ == State::kExited) return;
    spdlog::warn("{}: no exit within {} ms of the shutdown request{}; sending SIGKILL", describe(),
                 timeout.count(),
                 sentinel_pending_ ? " (its request ring never had room for the sentinel)" : "");
    killed_by_daemon_ = true;
    process_.signal(SIGKILL);
  });
}

void WorkerProcess::release_region(std::uint64_t token) {
  // A stopping worker maps nothing new and its mappings end with it.
  if (state_ == State::kExited || state_ == State::kStopping || !channel_) return;
  pending_releases_.push_back(token);
  send_releases();
}

void WorkerProcess::send_releases() {
  while (!pending_releases_.empty()) {
    const std::size_t count = std::min(pending_releases_.size(), shm::kMaxReleasedRegionsPerRecord);
    auto reservation = channel_->requests.try_reserve(shm::RecordType::kReleaseRegions, 0,
                                                      count * sizeof(std::uint64_t));
    if (!reservation) {
      return kill(fmt::format("request ring: {}", reservation.error().message),
                  /*by_daemon=*/false);
    }
    if (!*reservation) return;  // poll() sends them once the worker has read
    std::memcpy((*reservation)->payload.data(), pending_releases_.data(),
                count * sizeof(std::uint64_t));
    channel_->requests.commit(**reservation);
    pending_releases_.erase(pending_releases_.begin(),
                            pending_releases_.begin() + static_cast<std::ptrdiff_t>(count));
  }
}

void WorkerProcess::send_sentinel() {
  // Every ring write so far is ahead of the sentinel, and the ring is FIFO: the worker answers
  // them all before it sees it. It needs only a header's room. A full ring clears as the worker
  // answers, and each answer brings poll() back here: never wait for room on the loop thread.
  auto reservation = channel_->requests.try_reserve(shm::RecordType::kShutdown, 0, 0);
  if (!reservation) {
    return kill(fmt::format("request ring: {}", reservation.error().message), /*by_daemon=*/false);
  }
  if (!*reservation) return;
  channel_->requests.commit(**reservation);
  sentinel_pending_ = false;
}

bool WorkerProcess::arm_parking() noexcept {
  if (!channel_ || state_ == State::kExited) return true;
  auto& responses = channel_->responses;
  parked_ = shm::arm_parking(responses.data_slot(), [&] { return responses.has_data_hint(); });
  if (!parked_ || !ring_full_) return parked_;
  // Waiting for room too: the worker's release() then rings our eventfd.
  parked_for_room_ = shm::arm_parking(channel_->requests.space_slot(), [&] { return room_made(); });
  return parked_for_room_;
}

void WorkerProcess::disarm_parking() noexcept {
  if (parked_) shm::disarm_parking(channel_->responses.data_slot());
  if (parked_for_room_) shm::disarm_parking(channel_->requests.space_slot());
  parked_ = false;
  parked_for_room_ = false;
}

void WorkerProcess::on_process_exit() {
  const auto status = process_.try_reap();
  if (!status) {
    // pidfd readable means exited; the reap can only lag. Look again shortly.
    watch_exit();
    return;
  }
  // Answers it wrote before it died are still good; nothing new may be written to it meanwhile.
  exiting_ = true;
  poll();
  const State was = state_;
  state_ = State::kExited;
  timer_.cancel();
  wakeup_watch_.cancel();
  stderr_.drain();
  WorkerExit exit;
  exit.reason = status->describe();
  if (!failure_.empty()) exit.reason = fmt::format("{} ({})", failure_, exit.reason);
  exit.clean = was == State::kStopping && status->success();
  exit.caused_by_daemon = killed_by_daemon_ || exit.clean;
  exit.ready_since = ready_since_;
  exit.stderr_tail = stderr_.tail();
  if (exit.clean) {
    spdlog::info("{}: exited cleanly", describe());
  } else if (killed_by_daemon_) {
    spdlog::warn("{}: {}", describe(), exit.reason);
  } else {
    spdlog::error("{}: {}", describe(), exit.reason);
  }
  events_.on_worker_exit(*this, exit);
}

void WorkerProcess::kill(const std::string& reason, bool by_daemon) {
  // Once is enough: a corrupt ring stays corrupt on every poll until the exit is seen.
  if (broken_ || state_ == State::kExited) return;
  // No more jobs for it: the scheduler must not keep choosing a worker on its way out.
  broken_ = true;
  killed_by_daemon_ = by_daemon;
  if (failure_.empty()) failure_ = reason;
  if (by_daemon)
    spdlog::warn("{}: {}; killing it", describe(), reason);
  else
    spdlog::error("{}: {}; killing it", describe(), reason);
  process_.signal(SIGKILL);
}

std::optional<std::uint64_t> WorkerProcess::anonymous_rss() const {
  if (!process_.running()) return std::nullopt;
  std::ifstream status(fmt::format("/proc/{}/status", pid()));
  std::string line;
  while (std::getline(status, line)) {
    // "RssAnon:	   12345 kB"
    if (!line.starts_with("RssAnon:")) continue;
    std::uint64_t kib = 0;
    const auto digits = line.find_first_of("0123456789");
    if (digits == std::string::npos) return std::nullopt;
    const auto [end, ec] = std::from_chars(line.data() + digits, line.data() + line.size(), kib);
    if (ec != std::errc{}) return std::nullopt;
    return kib * 1024;
  }
  return std::nullopt;
}

}  // namespace infervisor::supervisor
