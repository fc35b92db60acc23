#include "worker/job_handler.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "worker/input_binding.hpp"
#include "worker/model_error.hpp"
#include "worker/output_binding.hpp"

namespace infervisor::worker {
namespace {

shm::StageTimes stage_times(const StageDurations& durations) noexcept {
  return {durations.input_copy_ns, durations.forward_ns, durations.output_copy_ns};
}

}  // namespace

JobHandler::JobHandler(const ModelOptions& model, const ModelRunner& runner,
                       shm::RingReader& requests, ReplyWriter& replies, std::string who) noexcept
    : model_(model),
      runner_(runner),
      requests_(requests),
      replies_(replies),
      who_(std::move(who)) {}

std::optional<ExitStatus> JobHandler::handle_request(const shm::RecordView& record) {
  using shm::JobErrorKind;
  const auto frame = shm::decode_frame(record.payload, record.job_id);
  if (!frame) {
    return reject(record, JobErrorKind::kBadInput,
                  fmt::format("malformed request frame: {}", frame.error().message));
  }
  if (frame->kind != shm::FrameKind::kRequest) {
    return reject(record, JobErrorKind::kBadInput, "the request record holds a response frame");
  }
  if (frame->model_name != model_.name) {
    return reject(record, JobErrorKind::kBadInput,
                  fmt::format("the request is for model '{}' but this worker serves '{}'",
                              frame->model_name, model_.name));
  }
  const auto inputs = bind_inputs(model_.inputs, frame->tensors);
  if (!inputs) return reject(record, JobErrorKind::kBadInput, inputs.error().message);
  // Checked before forward(): a request for an unknown output must not cost a model run.
  const auto selected = select_outputs(model_.outputs, frame->output_names);
  if (!selected) return reject(record, JobErrorKind::kBadInput, selected.error().message);

  Forward forward = runner_.forward(*inputs);
  if (!forward.ok()) return fail(record, forward);
  // Every early answer below waits for the device first (finish()): the request's bytes may
  // still be in use by copies queued on it.
  const auto bound = bind_outputs(model_.outputs, forward.kind(), forward.outputs());
  if (!bound) {
    forward.finish();
    return reject(record, JobErrorKind::kModel,
                  fmt::format("model {}: {}", model_.path, bound.error().message));
  }
  std::vector<std::size_t> fetched;  // ModelOutput index of each answered output, in answer order
  std::vector<shm::TensorLayout> layouts;
  for (const std::size_t spec_index : *selected) {
    const std::size_t output = (*bound)[spec_index];
    fetched.push_back(output);
    layouts.push_back({model_.outputs[spec_index].name, model_.outputs[spec_index].dtype,
                       forward.outputs()[output].shape});
  }
  const auto plan = shm::plan_frame(model_.name, layouts, {});
  if (!plan) {
    forward.finish();
    return reject(record, JobErrorKind::kInternal,
                  fmt::format("cannot lay out the response: {}", plan.error().message));
  }
  auto answer = replies_.reserve(shm::RecordType::kResponse, record.job_id, plan->total_bytes);
  if (!answer) {
    forward.finish();
    if (answer.error().code == ErrorCode::kTooLarge) {
      return reject(record, JobErrorKind::kTooLarge,
                    fmt::format("the outputs need a {}-byte response but the response ring "
                                "carries at most {} bytes",
                                plan->total_bytes, replies_.max_payload_bytes()));
    }
    return finish(record, answer);
  }
  const auto payloads = shm::write_frame(answer->payload, *plan, shm::FrameKind::kResponse,
                                         record.job_id, model_.name, layouts, {});
  for (std::size_t i = 0; i < fetched.size(); ++i) {
    if (!forward.copy_output(fetched[i], payloads[i])) break;
  }
  // The one wait: outputs in the record, inputs no longer read. A failure here reserves an ERROR
  // record instead, which discards the uncommitted response.
  if (!forward.finish()) return fail(record, forward);
  shm::write_stage_times(answer->payload, stage_times(forward.durations()));
  return finish(record, answer);
}

std::optional<ExitStatus> JobHandler::fail(const shm::RecordView& record, const Forward& forward) {
  using shm::JobErrorKind;
  const auto stages = stage_times(forward.durations());
  switch (forward.failure()) {
    case FailureKind::kOutOfMemory:
      runner_.release_cached_memory();
      return reject(record, JobErrorKind::kModel,
                    fmt::format("{} (model {}; the worker freed its cached device memory and "
                                "serves on)",
                                forward.error(), model_.path),
                    stages);
    case FailureKind::kDeviceFault: {
      const auto message = fmt::format("{} (model {}); the device is unusable, the worker exits",
                                       forward.error(), model_.path);
      if (const auto stop = reject(record, JobErrorKind::kInternal, message, stages)) return stop;
      // Job 0: the supervisor shows this as the reason the worker ended.
      if (auto notice = replies_.prepare_error(0, JobErrorKind::kInternal, message)) {
        replies_.commit(*notice);
      }
      return ExitStatus::kDeviceFault;
    }
    case FailureKind::kModel:
    case FailureKind::kNone:
      break;
  }
  return reject(
      record, JobErrorKind::kModel,
      fmt::format("model {} raised: {}", model_.path, summarize_model_error(forward.error())),
      stages);
}

std::optional<ExitStatus> JobHandler::reject(const shm::RecordView& record, shm::JobErrorKind kind,
                                             std::string_view message,
                                             const shm::StageTimes& stages) {
  const auto level =
      kind == shm::JobErrorKind::kBadInput ? spdlog::level::warn : spdlog::level::err;
  spdlog::log(level, "{} job {}: {}", who_, record.job_id, message);
  return finish(record, replies_.prepare_error(record.job_id, kind, message, stages));
}

std::optional<ExitStatus> JobHandler::finish(const shm::RecordView& record,
                                             const Result<shm::Reservation>& answer) {
  if (!answer) {
    spdlog::error("{} job {}: cannot answer: {}", who_, record.job_id, answer.error().message);
    return answer.error().code == ErrorCode::kPeerGone ? ExitStatus::kSupervisorGone
                                                       : ExitStatus::kChannelCorrupt;
  }
  requests_.release(record);
  replies_.commit(*answer);
  return std::nullopt;
}

}  // namespace infervisor::worker
