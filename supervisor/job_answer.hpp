// A worker's answer record (RESPONSE or ERROR) turned into the job's HTTP reply. Never throws: an
// answer that cannot be encoded (a corrupt frame, an output too large to write as JSON, memory
// running out) becomes a 500 for that job alone, never an exception that reaches the event loop.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "shm/frame.hpp"
#include "shm/ring.hpp"
#include "supervisor/config.hpp"
#include "supervisor/http_reply.hpp"
#include "supervisor/job.hpp"

namespace infervisor::supervisor {

// `worker` names the worker in log lines.
HttpReply reply_for_answer(const ModelConfig& model, const Job& job, const shm::RecordView& answer,
                           std::string_view worker) noexcept;

// A dynamic batch's answer as one reply per job, in the batch's order: each job's own rows of
// every output (batch_frame.hpp), or, when the batch failed, the same error for each.
std::vector<HttpReply> replies_for_batch(const ModelConfig& model, std::span<const JobPtr> jobs,
                                         std::int64_t total_rows, const shm::RecordView& answer,
                                         std::string_view worker) noexcept;

// Why a batch that failed should run again as two halves rather than fail its jobs: it ran out
// of memory (CUDA out of memory) or its outputs did not fit the response ring. nullopt otherwise.
std::optional<std::string> split_reason(const shm::RecordView& answer);

// The worker's stage times in an answer (zero if it carries none that can be read).
shm::StageTimes answer_stages(const shm::RecordView& answer) noexcept;

}  // namespace infervisor::supervisor
