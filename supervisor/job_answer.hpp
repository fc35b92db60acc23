// A worker's answer record (RESPONSE or ERROR) turned into the job's HTTP reply. Never throws: an
// answer that cannot be encoded (a corrupt frame, an output too large to write as JSON, memory
// running out) becomes a 500 for that job alone, never an exception that reaches the event loop.
#pragma once

#include "shm/ring.hpp"
#include "supervisor/config.hpp"
#include "supervisor/http_reply.hpp"
#include "supervisor/job.hpp"

namespace infervisor::supervisor {

// `worker` names the worker in log lines.
HttpReply reply_for_answer(const ModelConfig& model, const Job& job, const shm::RecordView& answer,
                           std::string_view worker) noexcept;

}  // namespace infervisor::supervisor
