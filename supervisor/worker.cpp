#include "supervisor/worker.hpp"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <csignal>

#include "shm/frame.hpp"
#include "supervisor/job_times.hpp"
#include "supervisor/kserve_response.hpp"
#include "supervisor/worker_command.hpp"

namespace infervisor::supervisor {
namespace {

unsigned status_for(shm::JobErrorKind kind) {
  switch (kind) {
    case shm::JobErrorKind::kBadInput:
      return 400;
    case shm::JobErrorKind::kModel:
    case shm::JobErrorKind::kTooLarge:
    case shm::JobErrorKind::kInternal:
    case shm::JobErrorKind::kStartup:
      return 500;
  }
  return 500;
}

}  // namespace

Worker::Worker(boost::asio::io_context& io, const DaemonConfig& config, const ModelConfig& model,
               WorkerIdentity identity, Events& events)
    : io_(io),
      config_(config),
      model_(model),
      identity_(identity),
      events_(events),
      wakeup_watch_(io),
      exit_watch_(io),
      timer_(io) {}

Worker::~Worker() {
  // The descriptors belong to wakeup_fd_ and process_; the watches must not close them too.
  if (wakeup_watch_.is_open()) wakeup_watch_.release();
  if (exit_watch_.is_open()) exit_watch_.release();
  fail_inflight(500, "the daemon stopped the worker");
}

std::string Worker::describe() const {
  return fmt::format("model '{}' worker {} (pid {})", model_.name, identity_.instance, pid());
}

void Worker::start() {
  try {
    spawn();
  } catch (...) {
    // Nothing will report this worker's exit: it counts as exited (a child spawned before the
    // failure is killed and reaped by ~ChildProcess).
    state_ = State::kExited;
    throw;
  }
}

void Worker::spawn() {
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

  const WorkerCommand command{config_, model_, identity_, channel_->segment.name(),
                              wakeup_fd_.get()};
  SpawnOptions options;
  options.environment = command.environment();
  options.inherit_fds = {wakeup_fd_.get()};
  options.own_process_group = true;  // Ctrl-C in a terminal reaches the daemon, which drains
  process_ = ChildProcess::spawn(command.executable(), command.arguments(), options);
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
    kill_for(fmt::format("did not report READY within {} ms", config_.startup_timeout.count()));
  });
}

void Worker::watch_wakeups() {
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

void Worker::watch_exit() {
  exit_watch_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                         [this](const boost::system::error_code& ec) {
                           if (!ec) on_process_exit();
                         });
}

Worker::Dispatch Worker::dispatch(const JobPtr& job) {
  const InferRequest& request = job->request();
  shm::SmallVector<shm::TensorLayout> layouts;
  for (const auto& input : request.inputs)
    layouts.push_back({input.name, input.dtype, input.shape});
  shm::SmallVector<std::string_view> outputs;
  for (const auto& output : request.outputs)
    outputs.push_back(output.name);

  auto plan = shm::plan_frame(model_.name, layouts, outputs);
  if (!plan) throw HttpError(400, plan.error().message);
  auto reservation =
      channel_->requests.try_reserve(shm::RecordType::kRequest, job->id(), plan->total_bytes);
  if (!reservation) {
    if (reservation.error().code == ErrorCode::kTooLarge) {
      throw HttpError(
          413, fmt::format("the job's tensors need {} bytes but model '{}' takes at most "
                           "{} bytes per job (its ring_size)",
                           plan->total_bytes, model_.name, channel_->requests.max_payload_bytes()));
    }
    kill_for(reservation.error().message);
    return Dispatch::kNoRoom;
  }
  if (!*reservation) {
    // Look again once the worker has released anything. (With no job in flight the ring may hold
    // only the wrap padding try_reserve just published, and no answer would say when it is gone.)
    ring_full_ = true;
    // (The position try_reserve saw, not a fresh one: the worker may already have read the
    // padding, and that must count as room.)
    full_at_position_ = channel_->requests.consumer_position_seen();
    return Dispatch::kNoRoom;
  }
  const auto payloads = shm::write_frame((*reservation)->payload, *plan, shm::FrameKind::kRequest,
                                         job->id(), model_.name, layouts, outputs);
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    std::memcpy(payloads[i].data(), request.inputs[i].data.data(), request.inputs[i].data.size());
  }
  channel_->requests.commit(**reservation);
  inflight_.emplace(job->id(), InFlight{job, std::chrono::steady_clock::now()});
  return Dispatch::kSent;
}

bool Worker::room_made() const noexcept {
  return ring_full_ && channel_->requests.consumer_position() != full_at_position_;
}

std::size_t Worker::poll() {
  if (!channel_ || state_ == State::kExited) return 0;
  std::size_t handled = 0;
  while (true) {
    auto record = channel_->responses.try_peek();
    if (!record) {
      kill_for(fmt::format("wrote a corrupt response ring: {}", record.error().message));
      break;
    }
    if (!*record) break;
    handle_record(**record);
    channel_->responses.release(**record);
    ++handled;
  }
  if ((handled > 0 || room_made()) && state_ == State::kReady) {
    ring_full_ = false;
    events_.on_worker_capacity(*this);
  }
  if (sentinel_pending_ && handled > 0) send_sentinel();
  return handled;
}

void Worker::handle_record(const shm::RecordView& record) {
  switch (record.type) {
    case shm::RecordType::kReady:
      if (state_ == State::kStarting) {
        state_ = State::kReady;
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
      handle_answer(record);
      return;
    default:
      kill_for(fmt::format("sent a {} record, which workers never send",
                           shm::record_type_name(record.type)));
  }
}

void Worker::handle_answer(const shm::RecordView& record) {
  if (record.type == shm::RecordType::kError && record.job_id == 0) {
    const auto error = shm::decode_error_payload(record.payload);
    failure_ = error ? std::string(error->message) : error.error().message;
    spdlog::error("{}: {}", describe(), failure_);
    return;
  }
  const auto it = inflight_.find(record.job_id);
  if (it == inflight_.end()) {
    spdlog::warn("{}: answer for job {}, which is not in flight; dropped", describe(),
                 record.job_id);
    return;
  }
  JobPtr job = std::move(it->second.job);
  record_job_times(*job, it->second.dispatched, record, describe());
  // A moving average over about the last 8 jobs: enough to follow a change of batch size, not
  // thrown off by one slow job.
  const auto took = std::chrono::steady_clock::now() - it->second.dispatched;
  typical_job_time_ = typical_job_time_ == std::chrono::nanoseconds::zero()
                          ? took
                          : typical_job_time_ + (took - typical_job_time_) / 8;
  inflight_.erase(it);
  if (record.type == shm::RecordType::kError) {
    const auto error = shm::decode_error_payload(record.payload);
    if (!error) {
      job->complete(error_reply(
          500, fmt::format("worker sent an unreadable error: {}", error.error().message)));
      return;
    }
    spdlog::warn("{}: job {} failed: {}", describe(), job->id(), error->message);
    job->complete(error_reply(status_for(error->kind), error->message));
    return;
  }
  const auto frame = shm::decode_frame(record.payload, record.job_id);
  if (!frame) {
    spdlog::error("{}: job {}: corrupt response frame: {}", describe(), job->id(),
                  frame.error().message);
    job->complete(error_reply(
        500, fmt::format("the worker sent a corrupt response: {}", frame.error().message)));
    return;
  }
  if (frame->kind != shm::FrameKind::kResponse) {
    spdlog::error("{}: job {}: the response record holds a request frame", describe(), job->id());
    job->complete(error_reply(500, "the worker sent a request frame as its response"));
    return;
  }
  try {
    job->complete(encode_infer_response(model_, job->request(), *frame));
  } catch (const HttpError& error) {
    spdlog::error("{}: job {}: {}", describe(), job->id(), error.what());
    job->complete(error_reply(error.status(), error.what()));
  }
}

void Worker::request_shutdown(std::chrono::milliseconds timeout) {
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
    process_.signal(SIGKILL);
  });
}

void Worker::send_sentinel() {
  // Every ring write so far is ahead of the sentinel, and the ring is FIFO: the worker answers
  // them all before it sees it. It needs only a header's room. A full ring clears as the worker
  // answers, and each answer brings poll() back here: never wait for room on the loop thread.
  auto reservation = channel_->requests.try_reserve(shm::RecordType::kShutdown, 0, 0);
  if (!reservation) return kill_for(fmt::format("request ring: {}", reservation.error().message));
  if (!*reservation) return;
  channel_->requests.commit(**reservation);
  sentinel_pending_ = false;
}

bool Worker::arm_parking() noexcept {
  if (!channel_ || state_ == State::kExited) return true;
  auto& responses = channel_->responses;
  parked_ = shm::arm_parking(responses.data_slot(), [&] { return responses.has_data_hint(); });
  if (!parked_ || !ring_full_) return parked_;
  // Waiting for room too: the worker's release() then rings our eventfd.
  parked_for_room_ = shm::arm_parking(channel_->requests.space_slot(), [&] { return room_made(); });
  return parked_for_room_;
}

void Worker::disarm_parking() noexcept {
  if (parked_) shm::disarm_parking(channel_->responses.data_slot());
  if (parked_for_room_) shm::disarm_parking(channel_->requests.space_slot());
  parked_ = false;
  parked_for_room_ = false;
}

void Worker::on_process_exit() {
  const auto status = process_.try_reap();
  if (!status) {
    // pidfd readable means exited; the reap can only lag. Look again shortly.
    watch_exit();
    return;
  }
  // Answers it wrote before it died are still good.
  poll();
  const State was = state_;
  state_ = State::kExited;
  timer_.cancel();
  wakeup_watch_.cancel();
  std::string reason = status->describe();
  if (!failure_.empty()) reason = fmt::format("{} ({})", failure_, reason);
  if (was == State::kStopping && status->success()) {
    spdlog::info("{}: exited cleanly", describe());
  } else {
    spdlog::error("{}: {}", describe(), reason);
  }
  fail_inflight(500, fmt::format("{} {} while running this job", describe(), reason));
  events_.on_worker_exit(*this, reason);
}

void Worker::fail_inflight(unsigned status, const std::string& reason) {
  auto jobs = std::move(inflight_);
  inflight_.clear();
  for (auto& [id, in_flight] : jobs) {
    spdlog::error("model '{}' job {}: {}", model_.name, id, reason);
    in_flight.job->complete(error_reply(status, reason));
  }
}

void Worker::kill_for(const std::string& reason) {
  // Once is enough: a corrupt ring stays corrupt on every poll until the exit is seen.
  if (broken_) return;
  // No more jobs for it: the scheduler must not keep choosing a worker on its way out.
  broken_ = true;
  if (failure_.empty()) failure_ = reason;
  spdlog::error("{}: {}; killing it", describe(), reason);
  process_.signal(SIGKILL);
}

}  // namespace infervisor::supervisor
