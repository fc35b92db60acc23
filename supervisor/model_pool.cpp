#include "supervisor/model_pool.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "shm/frame.hpp"
#include "shm/ring.hpp"
#include "supervisor/batch_former.hpp"
#include "supervisor/job_answer.hpp"
#include "supervisor/job_placement.hpp"
#include "supervisor/job_times.hpp"
#include "supervisor/pick_worker.hpp"
#include "supervisor/request_layout.hpp"

namespace infervisor::supervisor {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kMemoryCheckPeriod{1};

long long millis(std::chrono::nanoseconds d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

HttpReply retry_later(std::string_view message) {
  HttpReply reply = error_reply(503, message);
  reply.headers.emplace_back("Retry-After", "1");
  return reply;
}

HttpReply ok_reply() {
  HttpReply reply;
  reply.body = "{}";
  return reply;
}

}  // namespace

std::string_view ModelPool::status_name(Status status) noexcept {
  switch (status) {
    case Status::kLoading:
      return "LOADING";
    case Status::kReady:
      return "READY";
    case Status::kFailed:
      return "FAILED";
    case Status::kUnloading:
      return "UNLOADING";
    case Status::kUnavailable:
      return "UNAVAILABLE";
  }
  return "UNKNOWN";
}

ModelPool::ModelPool(boost::asio::io_context& io, const DaemonConfig& config,
                     const ModelConfig& model, unsigned cores,
                     std::function<std::uint64_t()> next_generation, QueuedBytes& queued_bytes,
                     Events& events)
    : io_(io),
      config_(config),
      model_(model),
      policy_(model.supervision),
      cores_(cores),
      next_generation_(std::move(next_generation)),
      queued_bytes_(queued_bytes),
      events_(events),
      restart_(model.supervision, total_instances(model)),
      deadline_timer_(io),
      memory_timer_(io),
      batch_timer_(io) {
  for (const auto& group : model_.instance_groups) {
    for (int i = 0; i < group.count; ++i) {
      instances_.push_back(
          Instance{group.device, std::make_unique<boost::asio::steady_timer>(io_), false, false});
    }
  }
}

ModelPool::~ModelPool() {
  shutting_down_ = true;
  answer_queued(503, "the daemon stopped");
  for (auto& member : members_) {
    for (auto& entry : member->inflight.take_all()) {
      for (auto& job : entry.jobs)
        job->complete(error_reply(500, "the daemon stopped the worker running this job"));
    }
  }
  reply_loaders(error_reply(503, "the daemon stopped"));
  for (auto& waiter : std::exchange(unload_waiters_, {}))
    waiter(error_reply(503, "the daemon stopped"));
}

void ModelPool::start() {
  status_ = Status::kLoading;
  for (int instance = 0; instance < static_cast<int>(instances_.size()); ++instance)
    spawn(instance);
  watch_memory();
}

void ModelPool::spawn(int instance) {
  const auto& device = instances_[instance].device;
  const ThreadPlan threads = thread_plan(config_, model_, device.kind, cores_);
  WorkerIdentity identity{instance, device, threads.intra_op, next_generation_(), threads.inter_op};
  auto member = std::make_unique<Member>();
  member->instance = instance;
  member->process = std::make_unique<WorkerProcess>(io_, config_, model_, identity, *this);
  member->process->start();  // throws: nothing was added
  members_.push_back(std::move(member));
  ++instances_[instance].spawned;
}

std::vector<ModelPool::WorkerSummary> ModelPool::worker_summaries() const {
  std::vector<WorkerSummary> out;
  for (std::size_t i = 0; i < instances_.size(); ++i) {
    WorkerSummary summary;
    summary.instance = static_cast<int>(i);
    summary.restarts = instances_[i].spawned > 0 ? instances_[i].spawned - 1 : 0;
    summary.deaths = instances_[i].deaths;
    summary.stops = instances_[i].stops;
    summary.state = instances_[i].respawn_pending ? "RESPAWNING" : "EXITED";
    for (const auto& member : members_) {
      if (member->instance != summary.instance || member->process->retiring()) continue;
      switch (member->process->state()) {
        case WorkerProcess::State::kStarting:
          summary.state = "STARTING";
          break;
        case WorkerProcess::State::kReady:
          summary.state = "READY";
          break;
        case WorkerProcess::State::kStopping:
          summary.state = "STOPPING";
          break;
        case WorkerProcess::State::kExited:
          continue;
      }
      summary.pid = member->process->pid();
      summary.anonymous_rss = member->process->anonymous_rss();
      summary.gpu_memory_bytes = member->process->device_memory_bytes();
      std::tie(summary.ring_bytes_in_use, summary.ring_capacity) =
          member->process->request_ring_usage();
    }
    out.push_back(summary);
  }
  return out;
}

std::size_t ModelPool::ready_workers() const noexcept {
  std::size_t ready = 0;
  for (const auto& member : members_)
    ready +=
        member->process->state() == WorkerProcess::State::kReady && !member->process->retiring();
  return ready;
}

std::size_t ModelPool::in_flight() const noexcept {
  std::size_t total = 0;
  for (const auto& member : members_)
    total += member->inflight.jobs();
  return total;
}

ModelPool::Member* ModelPool::find(const WorkerProcess& worker) noexcept {
  for (auto& member : members_) {
    if (member->process.get() == &worker) return member.get();
  }
  return nullptr;
}

ModelPool::Member* ModelPool::serving_member(int instance) noexcept {
  for (auto& member : members_) {
    if (member->instance == instance && !member->process->retiring() &&
        member->process->state() != WorkerProcess::State::kExited) {
      return member.get();
    }
  }
  return nullptr;
}

void ModelPool::release_region(std::uint64_t token) {
  for (auto& member : members_)
    member->process->release_region(token);
}

void ModelPool::plan_frame(Job& job) const {
  if (model_.batching.enabled()) check_batch_rows(model_, job.request());
  const auto layout = request_layout(job.request());
  auto plan = shm::plan_frame(model_.name, layout.inputs, layout.outputs, layout.frame_regions());
  if (!plan) throw HttpError(400, plan.error().message);
  const std::uint64_t limit = shm::max_payload_bytes(model_.ring_bytes);
  if (plan->total_bytes > limit) {
    fail_request(413,
                 "the job's tensors need {} bytes in shared memory but model '{}' takes at most {} "
                 "bytes per job (ring_size {})",
                 plan->total_bytes, model_.name, limit, model_.ring_bytes);
  }
  job.set_frame_plan(std::move(*plan));
}

void ModelPool::submit(JobPtr job) {
  if (shutting_down_) fail_request(503, "the daemon is shutting down");
  switch (status_) {
    case Status::kFailed:
      fail_request(503, "model '{}' is FAILED: {}", model_.name, failure_);
    case Status::kUnloading:
    case Status::kUnavailable:
      fail_request(503, "model '{}' is {} (load it with POST /v2/repository/models/{}/load)",
                   model_.name, status_name(status_), model_.name);
    case Status::kLoading:
    case Status::kReady:
      break;
  }
  if (queued() >= model_.max_queue) {
    fail_request(503, "model '{}' has {} jobs queued, its max_queue; try again later", model_.name,
                 queued());
  }
  const auto bytes = job->body().size();
  if (queued_bytes_.used + bytes > queued_bytes_.limit) {
    fail_request(503,
                 "the queued jobs of every model hold {} bytes, and this one's {} bytes would pass "
                 "max_queued_bytes ({}); try again later",
                 queued_bytes_.used, bytes, queued_bytes_.limit);
  }
  job->set_required_gpu(required_gpu(job->request(), model_));
  plan_frame(*job);
  auto client_timeout = std::chrono::duration_cast<Clock::duration>(policy_.job_timeout);
  if (job->request().timeout && *job->request().timeout < client_timeout)
    client_timeout = *job->request().timeout;
  job->set_deadlines(job->created() + client_timeout, job->created() + policy_.job_timeout);
  queued_bytes_.used += bytes;
  // Behind every queued job of its priority level or a more urgent one (without levels, all
  // are 0: arrival order). Jobs put back at the front (a split batch's, a killed worker's) may
  // sit ahead of more urgent ones; the order is then only roughly by level, which is all it
  // promises.
  auto place = queue_.end();
  while (place != queue_.begin() &&
         (*std::prev(place))->request().priority > job->request().priority) {
    --place;
  }
  queue_.insert(place, job);
  spdlog::debug("model '{}' job {}: queued ({} waiting)", model_.name, job->id(), queued());
  arm_deadline(std::min(job->client_deadline(), job->created() + policy_.queue_timeout));
  pump();
}

void ModelPool::release_bytes(const Job& job) noexcept {
  queued_bytes_.used -= std::min<std::uint64_t>(queued_bytes_.used, job.body().size());
}

void ModelPool::enqueue_front(const JobPtr& job) {
  queued_bytes_.used += job->body().size();
  queue_.push_front(job);
}

bool ModelPool::send(Member& member, const JobPtr& job, bool exclusive) {
  // Before the commit: a worker that is spinning starts at once, and its stage times must fall
  // inside the worker time measured from here even if this thread is preempted after the commit.
  const auto dispatched = Clock::now();
  try {
    if (member.process->write_request(*job) == WorkerProcess::Dispatch::kNoRoom) return false;
  } catch (const HttpError& error) {
    job->complete(error_reply(error.status(), error.what()));
    return true;  // answered: it leaves the queue
  }
  member.inflight.add(job, dispatched, exclusive);
  spdlog::debug("{}: job {} dispatched{} ({} in flight)", member.process->describe(), job->id(),
                exclusive ? " alone" : "", member.inflight.size());
  return true;
}

bool ModelPool::send_batch(Member& member, std::span<const JobPtr> jobs, std::int64_t rows) {
  const auto dispatched = Clock::now();  // (as in send)
  try {
    if (member.process->write_batch(jobs) == WorkerProcess::Dispatch::kNoRoom) return false;
  } catch (const HttpError& error) {
    for (const auto& job : jobs)
      job->complete(error_reply(error.status(), error.what()));
    return true;
  }
  member.inflight.add_batch(jobs, dispatched);
  if (spdlog::should_log(spdlog::level::debug)) {
    std::vector<std::uint64_t> ids;
    for (const auto& job : jobs)
      ids.push_back(job->id());
    spdlog::debug("{}: batch of {} jobs ({} rows) dispatched: jobs {} ({} in flight)",
                  member.process->describe(), jobs.size(), rows, fmt::join(ids, ","),
                  member.inflight.size());
  }
  return true;
}

bool ModelPool::dispatch_batch(Member& member) {
  const auto choice = choose_batch(queue_, model_.batching,
                                   shm::max_payload_bytes(model_.ring_bytes), Clock::now());
  if (!choice.ready) {
    arm_batch_timer(choice.ready_at);
    return false;
  }
  if (choice.picks.size() == 1) {
    JobPtr job = queue_.front();
    if (!send(member, job, /*exclusive=*/false)) return true;
    queue_.pop_front();
    release_bytes(*job);
    return true;
  }
  std::vector<JobPtr> jobs;
  jobs.reserve(choice.picks.size());
  for (const auto pick : choice.picks)
    jobs.push_back(queue_[pick]);
  if (!send_batch(member, jobs, choice.rows)) return true;
  // Out of the queue, the others keeping their order.
  std::size_t position = 0;
  std::size_t next_pick = 0;
  std::erase_if(queue_, [&](const JobPtr&) {
    const bool picked = next_pick < choice.picks.size() && choice.picks[next_pick] == position;
    next_pick += picked;
    ++position;
    return picked;
  });
  for (const auto& job : jobs)
    release_bytes(*job);
  return true;
}

void ModelPool::arm_batch_timer(Clock::time_point when) {
  if (batch_timer_armed_ && batch_timer_at_ <= when) return;
  batch_timer_armed_ = true;
  batch_timer_at_ = when;
  batch_timer_.expires_at(when);
  batch_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    batch_timer_armed_ = false;
    pump();
  });
}

void ModelPool::pump() {
  if (shutting_down_) return;
  // Retried jobs first, each alone on a worker with nothing else in flight that may run it. (One
  // whose GPU has no idle worker lets the others behind it go.)
  for (std::size_t position = 0; position < retry_.size();) {
    JobPtr job = retry_[position];
    if (job->completed() || job->abandoned()) {
      retry_.erase(retry_.begin() + static_cast<std::ptrdiff_t>(position));
      release_bytes(*job);
      job->complete(error_reply(499, "the client went away"));
      continue;
    }
    Member* idle = nullptr;
    for (auto& member : members_) {
      if (member->process->accepting() && member->inflight.empty() && suits(*member, *job)) {
        idle = member.get();
        break;
      }
    }
    if (!idle) {
      ++position;
      continue;
    }
    if (!send(*idle, job, /*exclusive=*/true)) continue;  // its ring is full: it no longer accepts
    retry_.erase(retry_.begin() + static_cast<std::ptrdiff_t>(position));
    release_bytes(*job);
  }
  // Until every retried job has run, new jobs keep off the workers a retried job may run on: it
  // needs one of them idle.
  held_for_retry_.assign(members_.size(), false);
  for (std::size_t i = 0; i < members_.size(); ++i) {
    for (const auto& job : retry_) {
      if (suits(*members_[i], *job)) {
        held_for_retry_[i] = true;
        break;
      }
    }
  }
  std::vector<WorkerLoad> loads;
  std::size_t passed_over = 0;
  for (std::size_t position = 0; position < queue_.size();) {
    JobPtr job = queue_[position];
    if (job->completed() || job->abandoned()) {
      // Its client is gone (or its deadline answered it): do not run it.
      queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(position));
      release_bytes(*job);
      if (job->abandoned())
        spdlog::debug("model '{}' job {}: dropped, its client went away", model_.name, job->id());
      job->complete(error_reply(499, "the client went away"));
      continue;
    }
    loads.clear();
    for (std::size_t i = 0; i < members_.size(); ++i) {
      const Member& member = *members_[i];
      loads.push_back(
          {member.process->accepting() && !member.inflight.has_exclusive() &&
               !(i < held_for_retry_.size() && held_for_retry_[i]) && suits(member, *job),
           member.inflight.size(), static_cast<std::size_t>(model_.max_inflight_per_worker)});
    }
    const auto chosen = pick_worker(loads);
    if (!chosen) {
      // A job bound to a GPU whose workers are all busy lets the jobs behind it go to other
      // GPUs' workers (a batching model forms its batches from the front, so it waits).
      if (job->required_gpu() && !model_.batching.enabled() && ++passed_over <= kMaxPassedOver) {
        ++position;
        continue;
      }
      return;
    }
    if (model_.batching.enabled()) {
      // (A batch not yet due leaves the queue as it is, and its timer comes back.)
      if (!dispatch_batch(*members_[*chosen])) return;
      continue;
    }
    if (!send(*members_[*chosen], job, /*exclusive=*/false)) continue;
    queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(position));
    release_bytes(*job);
  }
}

bool ModelPool::suits(const Member& member, const Job& job) const noexcept {
  return device_suits(instances_[static_cast<std::size_t>(member.instance)].device,
                      job.required_gpu());
}

std::size_t ModelPool::poll() {
  std::size_t handled = 0;
  // An answer may retire or add members: index, not iterators.
  for (std::size_t i = 0; i < members_.size(); ++i)
    handled += members_[i]->process->poll();
  return handled;
}

std::chrono::nanoseconds ModelPool::answer_spin(std::chrono::nanoseconds cap) const noexcept {
  std::chrono::nanoseconds longest{0};
  for (const auto& member : members_) {
    if (member->inflight.empty()) continue;
    const auto expected =
        member->inflight.typical_job_time() * 3 / 2 + std::chrono::microseconds(20);
    // A model slower than the cap is not worth a spinning core: park and let the eventfd wake us.
    if (expected <= cap) longest = std::max(longest, expected);
  }
  return longest;
}

bool ModelPool::arm_parking() noexcept {
  for (auto& member : members_) {
    if (!member->process->arm_parking()) return false;
  }
  return true;
}

void ModelPool::disarm_parking() noexcept {
  for (auto& member : members_)
    member->process->disarm_parking();
}

void ModelPool::answer_queued(unsigned status, const std::string& reason) {
  auto answer = [&](std::deque<JobPtr>& jobs) {
    while (!jobs.empty()) {
      JobPtr job = std::move(jobs.front());
      jobs.pop_front();
      release_bytes(*job);
      job->complete(status == 503 ? retry_later(reason) : error_reply(status, reason));
    }
  };
  answer(retry_);
  answer(queue_);
}

void ModelPool::stop_members(std::chrono::milliseconds timeout) {
  for (auto& instance : instances_) {
    instance.respawn_timer->cancel();
    instance.respawn_pending = false;
    instance.recycling = false;
  }
  rolling_.clear();
  for (auto& member : members_) {
    member->process->retire();
    if (member->process->state() == WorkerProcess::State::kStarting)
      member->process->kill("stopped before it was ready", /*by_daemon=*/true);
    else
      member->process->request_shutdown(timeout);
  }
}

void ModelPool::shutdown(std::chrono::milliseconds timeout) {
  shutting_down_ = true;
  deadline_timer_.cancel();
  memory_timer_.cancel();
  batch_timer_.cancel();
  answer_queued(503, "the daemon is shutting down");
  reply_loaders(error_reply(503, "the daemon is shutting down"));
  stop_members(timeout);
}

void ModelPool::fail_model(const std::string& reason) {
  status_ = Status::kFailed;
  failure_ = reason;
  spdlog::error("model '{}' is FAILED: {}", model_.name, reason);
  answer_queued(503, fmt::format("model '{}' is FAILED: {}", model_.name, reason));
  stop_members(config_.shutdown_timeout);
  reply_loaders(
      error_reply(500, fmt::format("model '{}' failed to load: {}", model_.name, reason)));
  const bool during_startup = std::exchange(starting_up_, false);
  events_.on_pool_failed(*this, reason, during_startup);
}

void ModelPool::on_worker_ready(WorkerProcess& worker) {
  Member* member = find(worker);
  if (!member || shutting_down_) return;
  const int instance = member->instance;
  // A replacement started first (recycling): the worker it replaces stops taking jobs now.
  for (auto& other : members_) {
    if (other.get() != member && other->instance == instance && !other->process->retiring()) {
      other->process->retire();
      retire_if_drained(*other);
    }
  }
  if (instances_[instance].recycling && policy_.recycle == SupervisionPolicy::Recycle::kDrainFirst)
    finish_recycle(instance);
  if (instances_[instance].recycling) {
    // start_first: done once the old one has gone; it may be gone already.
    bool old_alive = false;
    for (auto& other : members_)
      old_alive |= other.get() != member && other->instance == instance;
    if (!old_alive) finish_recycle(instance);
  }
  if (status_ == Status::kLoading && ready_workers() == instances_.size()) {
    status_ = Status::kReady;
    starting_up_ = false;
    spdlog::info("model '{}' is READY ({} workers)", model_.name, instances_.size());
    reply_loaders(ok_reply());
    events_.on_pool_ready(*this);
  }
  events_.on_pool_changed(*this);
  pump();
}

void ModelPool::on_worker_answer(WorkerProcess& worker, const shm::RecordView& answer) {
  Member* member = find(worker);
  if (!member) return;
  auto entry = member->inflight.take(answer.job_id);
  if (!entry) {
    spdlog::warn("{}: answer for job {}, which is not in flight; dropped", worker.describe(),
                 answer.job_id);
    return;
  }
  const auto now = Clock::now();
  member->inflight.record_answer_time(now - entry->dispatched, entry->jobs.size());
  if (entry->jobs.size() == 1) {
    Job& job = *entry->jobs.front();
    const auto stages = answer_stages(answer);
    if (answer.type == shm::RecordType::kResponse)
      statistics_->record_execution(inference_rows(job), stages);
    if (!job.completed()) {
      record_job_times(job, entry->dispatched, stages, worker.describe());
      job.complete(reply_for_answer(model_, job, answer, worker.describe()));
    }
  } else {
    answer_batch(*entry, answer, worker.describe());
  }
  if (policy_.max_jobs_per_worker > 0 && !worker.retiring() &&
      member->inflight.answered() >= policy_.max_jobs_per_worker) {
    begin_recycle(member->instance, fmt::format("it has served {} jobs (max_jobs_per_worker)",
                                                member->inflight.answered()));
  }
  if (worker.retiring()) retire_if_drained(*member);
  if (status_ == Status::kUnloading) maybe_finish_unload();
}

void ModelPool::answer_batch(InFlightTable::Entry& entry, const shm::RecordView& answer,
                             const std::string& worker) {
  const auto& jobs = entry.jobs;
  std::int64_t rows = 0;
  for (const auto& job : jobs)
    rows += job_rows(job->request());
  if (const auto why = split_reason(answer)) {
    // Before any of its jobs fails, each half runs as a batch of its own (and may split again).
    const std::size_t half = jobs.size() / 2;
    std::int64_t first_rows = 0;
    for (std::size_t i = 0; i < half; ++i)
      first_rows += job_rows(jobs[i]->request());
    spdlog::warn(
        "{}: a batch of {} jobs ({} rows) failed ({}); running it again as batches of "
        "{} and {} rows",
        worker, jobs.size(), rows, *why, first_rows, rows - first_rows);
    for (std::size_t i = 0; i < jobs.size(); ++i)
      jobs[i]->set_batch_limit(i < half ? first_rows : rows - first_rows);
    for (auto it = jobs.rbegin(); it != jobs.rend(); ++it) {
      if (!(*it)->completed()) enqueue_front(*it);
    }
    return;
  }
  const auto stages = answer_stages(answer);
  if (answer.type == shm::RecordType::kResponse)
    statistics_->record_execution(static_cast<std::uint64_t>(rows), stages);
  const auto replies = replies_for_batch(model_, jobs, rows, answer, worker);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    Job& job = *jobs[i];
    if (job.completed()) continue;
    record_job_times(job, entry.dispatched, stages, worker);
    job.complete(std::move(replies[i]));
  }
}

void ModelPool::on_worker_capacity(WorkerProcess&) {
  pump();
}

void ModelPool::retire_if_drained(Member& member) {
  if (member.inflight.empty() && member.process->state() == WorkerProcess::State::kReady)
    member.process->request_shutdown(config_.shutdown_timeout);
  else if (member.process->state() == WorkerProcess::State::kStarting)
    member.process->kill("replaced before it was ready", /*by_daemon=*/true);
}

void ModelPool::handle_orphans(std::vector<InFlightTable::Entry> entries, const Member& member,
                               const WorkerExit& exit) {
  const std::string worker = member.process->describe();
  // Put back in their order, ahead of newer jobs.
  std::vector<JobPtr> again;
  std::vector<JobPtr> jobs;
  for (auto& entry : entries) {
    for (auto& job : entry.jobs)
      jobs.push_back(std::move(job));
  }
  for (auto& job : jobs) {
    if (job->completed()) continue;  // its deadline answered it already
    if (status_ == Status::kFailed || status_ == Status::kUnavailable) {
      job->complete(retry_later(
          fmt::format("model '{}' is {}: {}", model_.name, status_name(status_), failure_)));
      continue;
    }
    if (shutting_down_) {
      job->complete(error_reply(
          500, fmt::format("{} stopped ({}) while running this job", worker, exit.reason)));
      continue;
    }
    if (exit.caused_by_daemon) {
      // Killed for another job's deadline, or recycled: not this job's doing.
      again.push_back(std::move(job));
      continue;
    }
    if (policy_.on_worker_death == SupervisionPolicy::OnDeath::kFail) {
      spdlog::error("model '{}' job {}: {} {} while running it", model_.name, job->id(), worker,
                    exit.reason);
      job->complete(
          error_reply(500, fmt::format("{} {} while running this job", worker, exit.reason)));
      continue;
    }
    job->record_death(fmt::format("{} {}", worker, exit.reason));
    const auto runs = job->deaths().size();
    if (runs > static_cast<std::size_t>(policy_.max_job_retries)) {
      spdlog::error("model '{}' job {}: its worker died each of the {} times it ran; failing it",
                    model_.name, job->id(), runs);
      job->complete(
          error_reply(500, fmt::format("the worker died each of the {} times this job ran: {}",
                                       runs, fmt::join(job->deaths(), "; "))));
      continue;
    }
    spdlog::warn("model '{}' job {}: {} died running it; running it again, alone", model_.name,
                 job->id(), worker);
    queued_bytes_.used += job->body().size();
    retry_.push_back(std::move(job));
  }
  for (auto it = again.rbegin(); it != again.rend(); ++it)
    enqueue_front(*it);
}

void ModelPool::on_worker_exit(WorkerProcess& worker, const WorkerExit& exit) {
  auto found = std::find_if(members_.begin(), members_.end(),
                            [&](const auto& member) { return member->process.get() == &worker; });
  if (found == members_.end()) return;
  // The process object is inside its own callback: retire it now, free it later.
  std::unique_ptr<Member> member = std::move(*found);
  members_.erase(found);
  const int instance = member->instance;
  ++(exit.caused_by_daemon ? instances_[instance].stops : instances_[instance].deaths);
  const bool was_retiring = worker.retiring();
  handle_orphans(member->inflight.take_all(), *member, exit);
  retired_.push_back(std::move(member));
  boost::asio::post(io_, [this] { retired_.clear(); });

  if (spawn_when_gone_ && members_.empty()) {
    spawn_when_gone_ = false;
    start_loading();
    return;
  }
  // (An unloading model whose jobs are not all done yet still replaces its workers.)
  const bool stopped = shutting_down_ || spawn_when_gone_ || status_ == Status::kFailed ||
                       status_ == Status::kUnavailable || (status_ == Status::kUnloading && idle());
  if (stopped) {
    if (status_ == Status::kFailed && !exit.stderr_tail.empty() &&
        failure_.find(exit.stderr_tail) == std::string::npos && !exit.caused_by_daemon) {
      failure_ += fmt::format("; its last words on stderr: {}", exit.stderr_tail);
    }
    maybe_finish_unload();
    events_.on_pool_changed(*this);
    return;
  }
  if (starting_up_ && !exit.caused_by_daemon && config_.exit_on_error) {
    // Start-up: a model that cannot start stops the daemon (exit_on_error).
    std::string reason =
        fmt::format("model '{}' worker {}: {}", model_.name, instance, exit.reason);
    if (!exit.stderr_tail.empty())
      reason += fmt::format("; its last words on stderr: {}", exit.stderr_tail);
    status_ = Status::kFailed;
    failure_ = reason;
    starting_up_ = false;
    answer_queued(503, reason);
    stop_members(std::chrono::milliseconds(1000));
    events_.on_pool_failed(*this, reason, true);
    return;
  }
  if (serving_member(instance) != nullptr) {
    // A worker that was being replaced (recycling) left; its replacement serves.
    if (instances_[instance].recycling && was_retiring) {
      const Member* successor = serving_member(instance);
      if (successor->process->state() == WorkerProcess::State::kReady) finish_recycle(instance);
    }
    events_.on_pool_changed(*this);
    pump();
    return;
  }
  std::chrono::milliseconds delay{0};
  if (!exit.caused_by_daemon) {
    const auto decision = restart_.on_death(instance, exit.ready_since, Clock::now());
    if (decision.model_failed) {
      std::string reason =
          fmt::format("{} worker deaths within {} s (max_restarts {}); the last: worker {} {}",
                      restart_.recent_deaths(Clock::now()), millis(policy_.restart_window) / 1000,
                      policy_.max_restarts, instance, exit.reason);
      if (!exit.stderr_tail.empty())
        reason += fmt::format("; its last words on stderr: {}", exit.stderr_tail);
      fail_model(reason);
      return;
    }
    delay = decision.delay;
  }
  respawn_later(instance, delay);
  events_.on_pool_changed(*this);
  pump();
}

void ModelPool::respawn_later(int instance, std::chrono::milliseconds delay) {
  auto& slot = instances_[instance];
  if (slot.respawn_pending) return;
  slot.respawn_pending = true;
  if (delay.count() > 0)
    spdlog::warn("model '{}' worker {}: respawning in {} ms", model_.name, instance, delay.count());
  slot.respawn_timer->expires_after(delay);
  slot.respawn_timer->async_wait([this, instance](const boost::system::error_code& ec) {
    if (ec) return;
    instances_[instance].respawn_pending = false;
    if (shutting_down_ || status_ == Status::kFailed || status_ == Status::kUnavailable ||
        (status_ == Status::kUnloading && idle()))
      return;
    try {
      spawn(instance);
    } catch (const std::exception& error) {
      spdlog::error("model '{}' worker {}: respawn failed: {}", model_.name, instance,
                    error.what());
      const auto decision = restart_.on_death(instance, std::nullopt, Clock::now());
      if (decision.model_failed) {
        fail_model(fmt::format("worker {} cannot be spawned: {}", instance, error.what()));
        return;
      }
      respawn_later(instance, decision.delay);
    }
    events_.on_pool_changed(*this);
  });
}

// --- recycling ------------------------------------------------------------------------------

void ModelPool::begin_recycle(int instance, const std::string& why) {
  auto& slot = instances_[instance];
  if (slot.recycling || shutting_down_ || status_ != Status::kReady) return;
  Member* old = serving_member(instance);
  if (!old) return;
  slot.recycling = true;
  spdlog::info("{}: replacing it with a fresh worker: {}", old->process->describe(), why);
  if (policy_.recycle == SupervisionPolicy::Recycle::kDrainFirst) {
    // The old one goes first; its queue waits for the replacement, spawned when it has exited.
    old->process->retire();
    retire_if_drained(*old);
    return;
  }
  try {
    spawn(instance);  // the old one serves on until this one is READY
  } catch (const std::exception& error) {
    spdlog::error("model '{}' worker {}: cannot start its replacement: {}", model_.name, instance,
                  error.what());
    slot.recycling = false;
  }
}

void ModelPool::finish_recycle(int instance) {
  instances_[instance].recycling = false;
  spdlog::info("model '{}' worker {}: replaced", model_.name, instance);
  next_rolling_load();
}

void ModelPool::next_rolling_load() {
  while (!rolling_.empty()) {
    const int instance = rolling_.front();
    if (instances_[instance].recycling) return;  // under way
    rolling_.pop_front();
    begin_recycle(instance, "the model is being loaded again");
    if (instances_[instance].recycling) return;
  }
  if (status_ == Status::kReady) reply_loaders(ok_reply());
}

// --- repository ----------------------------------------------------------------------------

void ModelPool::reply_loaders(const HttpReply& reply) {
  for (auto& waiter : std::exchange(load_waiters_, {}))
    waiter(reply);
}

void ModelPool::load(std::function<void(HttpReply)> done) {
  if (shutting_down_) return done(error_reply(503, "the daemon is shutting down"));
  switch (status_) {
    case Status::kLoading:
      load_waiters_.push_back(std::move(done));
      return;
    case Status::kUnloading:
      return done(error_reply(409, fmt::format("model '{}' is UNLOADING; load it once it is "
                                               "UNAVAILABLE",
                                               model_.name)));
    case Status::kReady:
      load_waiters_.push_back(std::move(done));
      if (!rolling_.empty()) return;  // a rolling replacement is under way: it answers them all
      for (int instance = 0; instance < static_cast<int>(instances_.size()); ++instance)
        rolling_.push_back(instance);
      spdlog::info("model '{}': loading it again, one worker at a time", model_.name);
      next_rolling_load();
      return;
    case Status::kFailed:
    case Status::kUnavailable:
      break;
  }
  spdlog::info("model '{}': loading", model_.name);
  restart_.reset();
  failure_.clear();
  status_ = Status::kLoading;
  load_waiters_.push_back(std::move(done));
  if (!members_.empty()) {
    // Workers of the failed model still stopping: make way, then start (on their exit).
    spawn_when_gone_ = true;
    for (auto& member : members_)
      member->process->kill("making way for a fresh load", /*by_daemon=*/true);
    return;
  }
  start_loading();
}

void ModelPool::start_loading() {
  try {
    for (int instance = 0; instance < static_cast<int>(instances_.size()); ++instance)
      spawn(instance);
  } catch (const std::exception& error) {
    fail_model(fmt::format("cannot spawn a worker: {}", error.what()));
  }
  events_.on_pool_changed(*this);
}

void ModelPool::unload(std::function<void(HttpReply)> done) {
  if (shutting_down_) return done(error_reply(503, "the daemon is shutting down"));
  if (status_ == Status::kUnavailable) return done(ok_reply());
  unload_waiters_.push_back(std::move(done));
  if (status_ == Status::kUnloading) return;
  spdlog::info("model '{}': unloading ({} queued, {} in flight finish first)", model_.name,
               queued(), in_flight());
  const bool failed = status_ == Status::kFailed;
  status_ = Status::kUnloading;
  reply_loaders(error_reply(503, fmt::format("model '{}' is being unloaded", model_.name)));
  if (failed) failure_.clear();
  maybe_finish_unload();
  events_.on_pool_changed(*this);
}

void ModelPool::maybe_finish_unload() {
  if (status_ != Status::kUnloading) return;
  if (!idle()) return;  // queued and running jobs finish first
  if (!members_.empty()) {
    for (auto& member : members_) {
      if (!member->process->retiring()) {
        stop_members(config_.shutdown_timeout);
        break;
      }
    }
    return;  // their exits bring us back here
  }
  status_ = Status::kUnavailable;
  spdlog::info("model '{}' is UNAVAILABLE (unloaded)", model_.name);
  for (auto& waiter : std::exchange(unload_waiters_, {}))
    waiter(ok_reply());
  events_.on_pool_changed(*this);
}

// --- deadlines -----------------------------------------------------------------------------

void ModelPool::arm_deadline(Clock::time_point when) {
  if (when >= deadline_armed_) return;
  deadline_armed_ = when;
  deadline_timer_.expires_at(when);
  deadline_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    deadline_armed_ = Clock::time_point::max();
    check_deadlines();
  });
}

void ModelPool::check_deadlines() {
  const auto now = Clock::now();
  auto next = Clock::time_point::max();
  auto expire_queued = [&](std::deque<JobPtr>& jobs) {
    for (auto it = jobs.begin(); it != jobs.end();) {
      Job& job = **it;
      const auto queue_expiry = job.created() + policy_.queue_timeout;
      if (job.completed()) {
        ++it;
        continue;
      }
      if (now >= job.client_deadline()) {
        release_bytes(job);
        job.complete(error_reply(
            504,
            fmt::format("job {} of model '{}' was not answered within its timeout of {} ms "
                        "(it waited in the queue)",
                        job.id(), model_.name, millis(job.client_deadline() - job.created()))));
        it = jobs.erase(it);
      } else if (now >= queue_expiry) {
        release_bytes(job);
        job.complete(retry_later(fmt::format(
            "job {} of model '{}' waited {} ms in the queue (queue_timeout) with {} of {} workers "
            "ready",
            job.id(), model_.name, millis(policy_.queue_timeout), ready_workers(),
            instances_.size())));
        it = jobs.erase(it);
      } else {
        next = std::min({next, queue_expiry, job.client_deadline()});
        ++it;
      }
    }
  };
  expire_queued(retry_);
  expire_queued(queue_);
  for (std::size_t i = 0; i < members_.size(); ++i) {
    Member& member = *members_[i];
    bool kill = false;
    std::uint64_t overdue_job = 0;
    for (const auto& [id, entry] : member.inflight.entries()) {
      for (const auto& each : entry.jobs) {
        Job& job = *each;
        if (!job.completed() && now >= job.client_deadline()) {
          const bool model_limit = job.client_deadline() == job.kill_deadline();
          job.complete(error_reply(
              504, fmt::format("job {} of model '{}' was not answered within its {} of {} ms",
                               job.id(), model_.name, model_limit ? "job_timeout" : "timeout",
                               millis(job.client_deadline() - job.created()))));
        }
        if (now >= job.kill_deadline()) {
          kill = true;
          overdue_job = job.id();
        } else {
          next = std::min(next, job.completed()
                                    ? job.kill_deadline()
                                    : std::min(job.client_deadline(), job.kill_deadline()));
        }
      }
    }
    if (kill) {
      member.process->kill(fmt::format("job {} ran past job_timeout ({} ms)", overdue_job,
                                       millis(policy_.job_timeout)),
                           /*by_daemon=*/true);
    }
  }
  if (next != Clock::time_point::max()) arm_deadline(next);
  pump();
  if (status_ == Status::kUnloading) maybe_finish_unload();
}

void ModelPool::watch_memory() {
  if (policy_.max_worker_rss == 0) return;
  memory_timer_.expires_after(kMemoryCheckPeriod);
  memory_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || shutting_down_) return;
    for (std::size_t i = 0; i < members_.size(); ++i) {
      Member& member = *members_[i];
      if (member.process->retiring() || member.process->state() != WorkerProcess::State::kReady)
        continue;
      const auto rss = member.process->anonymous_rss();
      if (rss && *rss > policy_.max_worker_rss) {
        begin_recycle(member.instance,
                      fmt::format("its anonymous memory (RssAnon) is {} MiB, above max_worker_rss "
                                  "({} MiB)",
                                  *rss >> 20, policy_.max_worker_rss >> 20));
      }
    }
    watch_memory();
  });
}

}  // namespace infervisor::supervisor
