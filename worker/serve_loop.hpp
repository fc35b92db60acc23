// The worker's main loop: wait for a record on the request ring, answer it, repeat, until the
// SHUTDOWN record, the supervisor's death or a corrupt ring ends it.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string_view>

#include "shm/ring.hpp"
#include "worker/client_region_cache.hpp"
#include "worker/exit_status.hpp"
#include "worker/job_handler.hpp"
#include "worker/reply_writer.hpp"

namespace infervisor::worker {

struct ServeContext {
  shm::RingReader& requests;
  ReplyWriter& replies;
  JobHandler& jobs;
  ClientRegionCache& regions;
  shm::SpinPolicy policy;
  pid_t supervisor = 0;
  std::string_view who;  // for log lines
  // Called after each job is answered (the device-memory report); may be empty.
  std::function<void()> after_job;
};

// The ring is FIFO, so when SHUTDOWN arrives every earlier request has been answered: the worker
// acknowledges it and returns kShutdown.
ExitStatus serve(ServeContext& context);

}  // namespace infervisor::worker
