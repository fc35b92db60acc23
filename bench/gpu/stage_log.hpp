// Where a job's time went, read back from the daemon's own debug log: infervisord logs every
// answer's times (supervisor/job_times.cpp) at debug level, and the benchmark runs its daemons
// with log_level debug, so the part of the log written during a load window holds them all.
#pragma once

#include <cstdint>
#include <filesystem>

namespace infervisor::bench::gpu {

struct StageMeans {
  std::uint64_t jobs = 0;
  double queue_us = 0;   // accepted -> written to a worker's ring
  double worker_us = 0;  // written -> answer read: the stages plus both rings
  double input_copy_us = 0;
  double forward_us = 0;
  double output_copy_us = 0;
};

// The means over every "job N times: ..." line in bytes [from, to) of `log`.
StageMeans read_stage_means(const std::filesystem::path& log, std::uint64_t from, std::uint64_t to);

// The log's size now: where a window's lines begin or end.
std::uint64_t log_size(const std::filesystem::path& log);

}  // namespace infervisor::bench::gpu
