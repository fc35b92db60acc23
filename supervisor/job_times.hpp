// The one call the answer-handling code makes for a job's times: it takes the worker's stage
// times from its answer (job_answer.hpp: answer_stages, decoded once per record, which a batch's
// jobs share), adds the daemon's own (queue, ring round trip), keeps them in the Job and logs
// them at debug level.
#pragma once

#include <chrono>
#include <string_view>

#include "shm/frame.hpp"
#include "supervisor/job.hpp"

namespace infervisor::supervisor {

// `dispatched`: when the job was written into the worker's request ring. `stages`: the worker's
// times from its RESPONSE or ERROR record (zero for a corrupt one; its decoder reports the
// corruption). `worker` names the worker in the log line.
void record_job_times(Job& job, std::chrono::steady_clock::time_point dispatched,
                      const shm::StageTimes& stages, std::string_view worker);

}  // namespace infervisor::supervisor
