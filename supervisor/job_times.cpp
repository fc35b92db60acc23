#include "supervisor/job_times.hpp"

#include <spdlog/spdlog.h>

#include "shm/frame.hpp"

namespace infervisor::supervisor {

void record_job_times(Job& job, std::chrono::steady_clock::time_point dispatched,
                      const shm::StageTimes& stages, std::string_view worker) {
  using std::chrono::nanoseconds;
  JobTimes times;
  times.queue = std::max(nanoseconds(0), dispatched - job.created());
  times.worker = std::chrono::steady_clock::now() - dispatched;
  times.input_copy = nanoseconds(stages.input_copy_ns);
  times.forward = nanoseconds(stages.forward_ns);
  times.output_copy = nanoseconds(stages.output_copy_ns);
  job.set_times(times);
  if (spdlog::should_log(spdlog::level::debug)) {
    auto us = [](nanoseconds ns) { return static_cast<double>(ns.count()) / 1000.0; };
    spdlog::debug(
        "{}: job {} times: queue {:.1f} us, worker {:.1f} us (input copy {:.1f} us, forward "
        "{:.1f} us, output copy {:.1f} us)",
        worker, job.id(), us(times.queue), us(times.worker), us(times.input_copy),
        us(times.forward), us(times.output_copy));
  }
}

}  // namespace infervisor::supervisor
