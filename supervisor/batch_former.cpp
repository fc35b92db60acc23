#include "supervisor/batch_former.hpp"

#include <algorithm>

#include "supervisor/http_reply.hpp"

namespace infervisor::supervisor {
namespace {

// How far behind the lead to look for jobs that agree with it: past this many passed-over jobs
// a batch is not worth the event loop's time.
constexpr std::size_t kScanBeyondBatch = 64;

bool has_region(const InferRequest& request) noexcept {
  for (const auto& input : request.inputs) {
    if (input.region) return true;
  }
  for (const auto& output : request.outputs) {
    if (output.region) return true;
  }
  return false;
}

}  // namespace

std::int64_t job_rows(const InferRequest& request) noexcept {
  if (request.inputs.empty() || request.inputs[0].shape.empty()) return 0;
  return request.inputs[0].shape[0];
}

bool batchable(const InferRequest& request) noexcept {
  return !request.inputs.empty() && !has_region(request);
}

bool same_batch_shape(const InferRequest& lead, const InferRequest& other) noexcept {
  if (lead.inputs.size() != other.inputs.size() || lead.outputs.size() != other.outputs.size())
    return false;
  for (std::size_t i = 0; i < lead.inputs.size(); ++i) {
    const auto& a = lead.inputs[i];
    const auto& b = other.inputs[i];
    if (a.name != b.name || a.dtype != b.dtype || a.shape.size() != b.shape.size() ||
        a.shape.empty() || !std::equal(a.shape.begin() + 1, a.shape.end(), b.shape.begin() + 1))
      return false;
  }
  for (std::size_t i = 0; i < lead.outputs.size(); ++i) {
    if (lead.outputs[i].name != other.outputs[i].name) return false;
  }
  return true;
}

void check_batch_rows(const ModelConfig& model, const InferRequest& request) {
  const std::int64_t rows = job_rows(request);
  for (const auto& input : request.inputs) {
    if (input.shape.empty()) {
      fail_request(400, "model '{}' batches along the first dimension, but input '{}' is a scalar",
                   model.name, input.name);
    }
    if (input.shape[0] != rows) {
      fail_request(400,
                   "model '{}' batches along the first dimension, so every input needs the same "
                   "number of rows, but '{}' has {} and '{}' has {}",
                   model.name, request.inputs[0].name, rows, input.name, input.shape[0]);
    }
  }
  if (rows > model.batching.max_batch_size) {
    fail_request(400,
                 "the job has {} rows, but model '{}' runs at most {} rows at once "
                 "(dynamic_batching.max_batch_size)",
                 rows, model.name, model.batching.max_batch_size);
  }
}

BatchChoice choose_batch(const std::deque<JobPtr>& queue, const DynamicBatching& batching,
                         std::uint64_t max_frame_bytes, std::chrono::steady_clock::time_point now) {
  BatchChoice choice;
  const Job& lead = *queue.front();
  choice.picks.push_back(0);
  choice.rows = job_rows(lead.request());
  if (!batchable(lead.request())) {
    choice.ready = true;
    return choice;
  }
  const std::int64_t limit = std::min(batching.max_batch_size, lead.batch_limit());
  std::uint64_t bytes = lead.frame_plan() ? lead.frame_plan()->total_bytes : 0;
  // The longest prefix of the picks whose rows make a preferred size.
  std::size_t preferred_picks = 0;
  auto note_preferred = [&] {
    if (std::binary_search(batching.preferred_batch_sizes.begin(),
                           batching.preferred_batch_sizes.end(), choice.rows))
      preferred_picks = choice.picks.size();
  };
  note_preferred();
  bool full = choice.rows >= limit;
  const std::size_t scan_end =
      std::min<std::size_t>(queue.size(), 1 + static_cast<std::size_t>(limit) + kScanBeyondBatch);
  for (std::size_t i = 1; i < scan_end && !full; ++i) {
    const Job& job = *queue[i];
    if (job.completed() || job.abandoned() || !batchable(job.request()) ||
        !same_batch_shape(lead.request(), job.request()))
      continue;
    const std::int64_t rows = job_rows(job.request());
    const std::uint64_t job_bytes = job.frame_plan() ? job.frame_plan()->total_bytes : 0;
    if (choice.rows + rows > limit || bytes + job_bytes > max_frame_bytes) {
      full = true;  // it agrees but does not fit: the batch cannot grow in queue order
      break;
    }
    if (choice.rows + rows > job.batch_limit()) continue;  // a half of a split batch: its own
    choice.picks.push_back(i);
    choice.rows += rows;
    bytes += job_bytes;
    note_preferred();
    full = choice.rows >= limit;
  }
  // The oldest picked job sets the clock: with priorities a newer, more urgent job may lead.
  auto oldest = lead.created();
  for (const auto pick : choice.picks)
    oldest = std::min(oldest, queue[pick]->created());
  if (full || now >= oldest + batching.max_queue_delay) {
    choice.ready = true;
    return choice;
  }
  if (preferred_picks > 0) {
    choice.picks.resize(preferred_picks);
    choice.rows = 0;
    for (const auto pick : choice.picks)
      choice.rows += job_rows(queue[pick]->request());
    choice.ready = true;
    return choice;
  }
  choice.ready_at = oldest + batching.max_queue_delay;
  return choice;
}

}  // namespace infervisor::supervisor
