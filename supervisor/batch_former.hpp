// Dynamic batching's choices (issue 11): which queued jobs of a model share one forward, and
// when the batch goes. Pure: jobs and a clock in, a choice out, so it is unit-tested alone.
//
// The front job of the queue leads. Behind it, in queue order (arrival order, or by priority
// level first: ModelPool::submit), every job that agrees with it on
// each input's dtype and every dimension but the first, and asks for the same outputs, joins while
// the rows fit `max_batch_size` (and the lead's and its own batch_limit) and the frame fits the
// ring. A job that does not agree is passed over and keeps its place; the first one that agrees
// but does not fit ends the batch. The batch goes at once when it is full (or could only grow
// past a limit), or when a prefix of it makes a preferred size (that prefix goes); otherwise when
// its oldest job has waited `max_queue_delay` since it arrived.
//
// Jobs with a tensor in a client's shared-memory region never pass through the daemon, which
// cannot stack what it never sees: they run alone.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <vector>

#include "supervisor/config.hpp"
#include "supervisor/job.hpp"

namespace infervisor::supervisor {

// The rows a job brings: the first dimension of its inputs (0 for a job without inputs).
std::int64_t job_rows(const InferRequest& request) noexcept;
// Every tensor of the job goes through the daemon (none is in a client region).
bool batchable(const InferRequest& request) noexcept;
// `other` may share a forward with `lead`: the same dtypes and non-batch dimensions on every
// input, and the same outputs asked for, in the same order.
bool same_batch_shape(const InferRequest& lead, const InferRequest& other) noexcept;

// Admission of a job for a batching model: its inputs agree on the rows, which fit
// max_batch_size. Throws HttpError 400 naming the problem.
void check_batch_rows(const ModelConfig& model, const InferRequest& request);

struct BatchChoice {
  std::vector<std::size_t> picks;  // positions in the queue, ascending; the lead (0) first
  std::int64_t rows = 0;
  bool ready = false;  // go now; otherwise wait until `ready_at` (or until more jobs arrive)
  std::chrono::steady_clock::time_point ready_at{};
};

// The batch the front job of `queue` leads. The front job must be neither completed nor
// abandoned, and every job must have its frame plan; `max_frame_bytes` bounds the sum of the
// picked jobs' frame sizes (which bounds the batch frame's size).
BatchChoice choose_batch(const std::deque<JobPtr>& queue, const DynamicBatching& batching,
                         std::uint64_t max_frame_bytes, std::chrono::steady_clock::time_point now);

}  // namespace infervisor::supervisor
