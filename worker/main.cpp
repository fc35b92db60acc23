// infervisor-worker: one isolated process serving one TorchScript model over a shared-memory
// channel. The supervisor spawns it (see worker_options.hpp for the command line and
// exit_status.hpp for what its exit status means).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <span>
#include <string>

#include "common/logging.hpp"
#include "shm/channel.hpp"
#include "worker/exit_status.hpp"
#include "worker/job_handler.hpp"
#include "worker/model_startup.hpp"
#include "worker/op_libraries.hpp"
#include "worker/parent_watch.hpp"
#include "worker/reply_writer.hpp"
#include "worker/serve_loop.hpp"
#include "worker/worker_options.hpp"

namespace infervisor::worker {
namespace {

std::string join(const std::vector<std::string>& problems) {
  std::string out;
  for (const auto& problem : problems)
    out += (out.empty() ? "" : "; ") + problem;
  return out;
}

// Reports a start-up failure through the ring, where the supervisor shows it to the user.
ExitStatus fail_startup(ReplyWriter& replies, std::string_view who, std::string_view message) {
  spdlog::error("{} job 0: start-up failed: {}", who, message);
  auto record = replies.prepare_error(0, shm::JobErrorKind::kStartup, message);
  if (!record) {
    spdlog::error("{} job 0: cannot report the start-up failure: {}", who, record.error().message);
  } else {
    replies.commit(*record);
  }
  return ExitStatus::kStartupFailed;
}

ExitStatus run(std::span<char* const> args) {
  const WorkerOptions options = parse_worker_options(args);
  const ChannelOptions& channel_options = options.channel;
  // Before anything else: a worker must never outlive its supervisor. Without a parseable pid
  // there is nothing to check, but the worker exits below after logging anyway.
  const bool supervisor_alive =
      channel_options.supervisor_pid == 0 || tie_lifetime_to_parent(channel_options.supervisor_pid);
  setup_logging("infervisor-worker", channel_options.log_level);
  const std::string who = fmt::format("model {}, worker {} (pid {})",
                                      options.model.name.empty() ? "?" : options.model.name,
                                      channel_options.instance, ::getpid());
  if (!supervisor_alive) {
    spdlog::error(
        "{} job 0: the parent (pid {}) is not the supervisor (pid {}): it died before "
        "the worker started",
        who, ::getppid(), channel_options.supervisor_pid);
    return ExitStatus::kSupervisorGone;
  }
  if (!options.channel_problems.empty()) {
    spdlog::error("{} job 0: unusable command line: {}", who, join(options.channel_problems));
    return ExitStatus::kNoChannel;
  }

  auto channel = shm::WorkerChannel::open(
      channel_options.segment, {channel_options.generation, channel_options.supervisor_pid},
      channel_options.wakeup_fd);
  if (!channel) {
    spdlog::error("{} job 0: cannot open the channel: {}", who, channel.error().message);
    return ExitStatus::kNoChannel;
  }
  const shm::SpinPolicy policy{channel_options.spin, std::chrono::milliseconds(100)};
  ReplyWriter replies(channel->responses, policy, channel_options.supervisor_pid);

  if (!options.model_problems.empty()) {
    return fail_startup(replies, who,
                        fmt::format("bad worker command line: {}", join(options.model_problems)));
  }
  const ModelOptions& model = options.model;
  if (!ModelRunner::configure_threads(model.threads, model.interop_threads)) {
    return fail_startup(replies, who,
                        fmt::format("libtorch refused {} intra-op and {} inter-op threads",
                                    model.threads, model.interop_threads));
  }
  if (auto loaded = load_op_libraries(model.libraries); !loaded) {
    return fail_startup(replies, who, loaded.error().message);
  }
  auto started = start_model(model);
  if (!started) return fail_startup(replies, who, started.error().message);

  // Page-locked, the rings are where the GPU copies inputs from and outputs to, with no staging
  // buffer in between. Only a slower path if it fails.
  std::string pinned = "-";
  if (model.device != "cpu") {
    const auto mapping = channel->segment.mapping();
    const auto problem = started->runner.pin_host_memory(mapping);
    pinned = problem.empty() ? fmt::format("{} MiB pinned", mapping.size() >> 20)
                             : fmt::format("NOT pinned ({})", problem);
    if (!problem.empty()) spdlog::warn("{}: the channel's memory is not pinned: {}", who, problem);
  }
  const auto ready = fmt::format(
      "torch {}, device {} ({}), {} intra-op and {} inter-op thread(s), rings {}, warm-up "
      "{:.1f} ms",
      ModelRunner::torch_version(), model.device, started->runner.describe_device(), model.threads,
      model.interop_threads, pinned, started->warm_up.count());
  if (const auto sent = replies.send(shm::RecordType::kReady, 0, ready); !sent) {
    spdlog::error("{} job 0: cannot report READY: {}", who, sent.error().message);
    return sent.error().code == ErrorCode::kPeerGone ? ExitStatus::kSupervisorGone
                                                     : ExitStatus::kChannelCorrupt;
  }
  spdlog::info("{}: ready ({})", who, ready);

  // Client regions are page-locked like the rings on a GPU, so copies go straight to and from
  // the client's memory.
  ClientRegionCache::Pin pin;
  ClientRegionCache::Unpin unpin;
  if (model.device != "cpu") {
    pin = [&runner = started->runner](std::span<std::byte> memory) {
      return std::string(runner.pin_host_memory(memory));
    };
    unpin = [&runner = started->runner](std::span<std::byte> memory) {
      runner.unpin_host_memory(memory);
    };
  }
  ClientRegionCache regions(std::move(pin), std::move(unpin));
  if (model.device != "cpu") {
    // CUDA regions are opened on this worker's one GPU and used in place.
    regions.set_cuda(
        [&runner = started->runner](std::span<const std::byte> handle,
                                    CudaHandleCache::Opened& opened) {
          return std::string(runner.open_ipc_memory(handle, &opened.base, &opened.size));
        },
        [&runner = started->runner](std::byte* base) { runner.close_ipc_memory(base); });
  }
  JobHandler jobs(model, started->runner, channel->requests, replies, regions, who);
  ServeContext context{
      channel->requests, replies, jobs, regions, policy, channel_options.supervisor_pid, who, {}};
  if (model.device != "cpu") {
    context.after_job = [&] {
      channel->segment.report_device_bytes(started->runner.device_memory_bytes());
    };
    context.after_job();  // the model and the warm-up's memory, before the first job
  }
  return serve(context);
}

}  // namespace
}  // namespace infervisor::worker

int main(int argc, char** argv) {
  using namespace infervisor::worker;
  try {
    const ExitStatus status =
        run(std::span<char* const>(argv + 1, static_cast<std::size_t>(argc - 1)));
    if (status == ExitStatus::kDeviceFault) {
      // The CUDA context is broken: libtorch's exit-time clean-up would only fail in it (or
      // abort). The supervisor has the reason already; leave at once.
      spdlog::shutdown();
      std::_Exit(exit_code(status));
    }
    return exit_code(status);
  } catch (const std::exception& error) {
    spdlog::critical("infervisor-worker: unexpected exception: {}", error.what());
    return exit_code(ExitStatus::kInternalError);
  }
}
