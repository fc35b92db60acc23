// The one call the answer-handling code makes for a job's times: it reads the worker's stage
// times from the answer record, adds the daemon's own (queue, ring round trip), keeps them in the
// Job and logs them at debug level.
#pragma once

#include <chrono>
#include <string_view>

#include "shm/ring.hpp"
#include "supervisor/job.hpp"

namespace infervisor::supervisor {

// `dispatched`: when the job was written into the worker's request ring. `answer`: its RESPONSE
// or ERROR record (a corrupt one gives zero stage times; its decoder reports the corruption).
// `worker` names the worker in the log line.
void record_job_times(Job& job, std::chrono::steady_clock::time_point dispatched,
                      const shm::RecordView& answer, std::string_view worker);

}  // namespace infervisor::supervisor
