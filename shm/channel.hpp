// The two ends of one worker's channel: a segment, its request ring (supervisor -> worker) and its
// response ring (worker -> supervisor), with the doorbells each end rings.
//
// The worker always sleeps on futexes. The supervisor sleeps either on futexes too (tests,
// benchmarks) or in its event loop on an eventfd (`supervisor_wakeup_fd` >= 0): the worker then
// writes that eventfd, inherited at spawn, instead of a futex wake.
#pragma once

#include "shm/ring.hpp"
#include "shm/segment.hpp"

namespace infervisor::shm {

struct SupervisorChannel {
  static Result<SupervisorChannel> create(std::string_view prefix, const SegmentLayout& layout,
                                          std::uint64_t generation) noexcept;

  Segment segment;
  RingWriter requests;
  RingReader responses;
};

struct WorkerChannel {
  static Result<WorkerChannel> open(std::string_view name, const SegmentExpectation& expected,
                                    int supervisor_wakeup_fd) noexcept;

  Segment segment;
  RingReader requests;
  RingWriter responses;
};

}  // namespace infervisor::shm
