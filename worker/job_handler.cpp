#include "worker/job_handler.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "common/bool_bytes.hpp"
#include "common/shape.hpp"
#include "worker/input_binding.hpp"
#include "worker/model_error.hpp"
#include "worker/output_binding.hpp"

namespace infervisor::worker {
namespace {

shm::StageTimes stage_times(const StageDurations& durations) noexcept {
  return {durations.input_copy_ns, durations.forward_ns, durations.output_copy_ns};
}

// A region the client removed, replaced or shrank is its mistake (400); one this worker cannot
// open, map or guard is the server's (500).
shm::JobErrorKind region_error_kind(const Error& error) noexcept {
  return error.code == ErrorCode::kInvalidArgument ? shm::JobErrorKind::kBadInput
                                                   : shm::JobErrorKind::kInternal;
}

}  // namespace

JobHandler::JobHandler(const ModelOptions& model, const ModelRunner& runner,
                       shm::RingReader& requests, ReplyWriter& replies, ClientRegionCache& regions,
                       std::string who) noexcept
    : model_(model),
      runner_(runner),
      requests_(requests),
      replies_(replies),
      regions_(regions),
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
  // Inputs in client regions: point them at the mapped memory (decode_frame checked the ranges
  // against the registered sizes).
  shm::SmallVector<shm::TensorView> tensors(frame->tensors.begin(), frame->tensors.end());
  shm::SmallVector<std::uint64_t> used_regions;
  auto map_region = [&](std::uint16_t region) -> Result<std::span<std::byte>> {
    const shm::RegionRef& ref = frame->regions[region - 1];
    if (std::find(used_regions.begin(), used_regions.end(), ref.token) == used_regions.end())
      used_regions.push_back(ref.token);
    return regions_.map(ref);
  };
  // The client can still write its region while the model reads it. Floating-point data read
  // in place can only come out as other numbers; integers and booleans may steer indexing after
  // a check, so on a CPU they are copied into the worker's own memory first (on a GPU the copy
  // to the device is that snapshot already).
  std::vector<std::vector<std::byte>> snapshots;
  const bool on_cpu = model_.device == "cpu";
  for (auto& tensor : tensors) {
    if (tensor.region == 0) continue;
    const auto mapped = map_region(tensor.region);
    if (!mapped) {
      return reject(record, region_error_kind(mapped.error()), mapped.error().message);
    }
    tensor.data = mapped->subspan(tensor.region_offset, tensor.byte_size);
    if (frame->regions[tensor.region - 1].kind == shm::RegionKind::kCuda) {
      // GPU memory, read in place by the model. (Its BOOL bytes are not checked: that would
      // copy them to the host first.)
      tensor.device_memory = true;
      continue;
    }
    if (on_cpu && !is_floating_point(tensor.dtype)) {
      snapshots.emplace_back(tensor.data.begin(), tensor.data.end());
      tensor.data = snapshots.back();
    }
    if (tensor.dtype == DType::kBool && first_invalid_bool(tensor.data)) {
      return reject(record, JobErrorKind::kBadInput,
                    fmt::format("input '{}' in shared memory holds a BOOL byte that is neither 0 "
                                "nor 1",
                                tensor.name));
    }
  }
  const auto inputs = bind_inputs(model_.inputs, tensors);
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
  // Per answered output: its bytes in a client region, if asked there, and whether that region
  // is GPU memory (a CUDA region).
  struct Placed {
    std::span<std::byte> bytes;
    bool on_device = false;
  };
  std::vector<Placed> placed;
  for (std::size_t i = 0; i < selected->size(); ++i) {
    const std::size_t spec_index = (*selected)[i];
    const std::size_t output = (*bound)[spec_index];
    fetched.push_back(output);
    shm::TensorLayout layout{model_.outputs[spec_index].name, model_.outputs[spec_index].dtype,
                             forward.outputs()[output].shape};
    placed.emplace_back();
    if (i < frame->output_placements.size() && frame->output_placements[i].region != 0) {
      const auto& placement = frame->output_placements[i];
      const auto bytes = checked_byte_size(layout.dtype, layout.dims).value_or(~std::uint64_t{0});
      if (bytes > placement.byte_size) {
        forward.finish();
        return reject(
            record, JobErrorKind::kBadInput,
            fmt::format("output '{}' {} needs {} bytes but its shared_memory_byte_size "
                        "is {}",
                        layout.name, shape_to_string(layout.dims), bytes, placement.byte_size));
      }
      const auto mapped = map_region(placement.region);
      if (!mapped) {
        forward.finish();
        return reject(record, region_error_kind(mapped.error()), mapped.error().message);
      }
      layout.region = placement.region;
      layout.region_offset = placement.offset;
      placed.back() = {mapped->subspan(placement.offset, bytes),
                       frame->regions[placement.region - 1].kind == shm::RegionKind::kCuda};
    }
    layouts.push_back(layout);
  }
  const shm::FrameRegions answer_regions{frame->regions, {}};
  const auto plan = shm::plan_frame(model_.name, layouts, {}, answer_regions);
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
                                         record.job_id, model_.name, layouts, {}, answer_regions);
  for (std::size_t i = 0; i < fetched.size(); ++i) {
    const bool in_region = layouts[i].region != 0;
    if (!forward.copy_output(fetched[i], in_region ? placed[i].bytes : payloads[i],
                             in_region && placed[i].on_device)) {
      break;
    }
  }
  // The one wait: outputs in the record, inputs no longer read. A failure here reserves an ERROR
  // record instead, which discards the uncommitted response.
  if (!forward.finish()) return fail(record, forward);
  std::string_view shrunk;
  for (const shm::RegionRef& ref : frame->regions) {
    const bool used =
        std::find(used_regions.begin(), used_regions.end(), ref.token) != used_regions.end();
    if (used && regions_.take_fault(ref.token) && shrunk.empty()) shrunk = ref.key;
  }
  if (!shrunk.empty()) {
    return reject(record, JobErrorKind::kBadInput,
                  fmt::format("shared memory object '{}' was shrunk below its registered size "
                              "while the job used it; its results are void",
                              shrunk));
  }
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
