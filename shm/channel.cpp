#include "shm/channel.hpp"

namespace infervisor::shm {

Result<SupervisorChannel> SupervisorChannel::create(std::string_view prefix,
                                                    const SegmentLayout& layout,
                                                    std::uint64_t generation) noexcept {
  auto segment = Segment::create(prefix, layout, generation);
  if (!segment) return segment.error();
  const RingView request = segment->request_ring();
  const RingView response = segment->response_ring();
  return SupervisorChannel{
      std::move(*segment),
      RingWriter(request, Doorbell(&request.control->data_ready, -1)),
      RingReader(response, Doorbell(&response.control->space_ready, -1)),
  };
}

Result<WorkerChannel> WorkerChannel::open(std::string_view name, const SegmentExpectation& expected,
                                          int supervisor_wakeup_fd) noexcept {
  auto segment = Segment::open(name, expected);
  if (!segment) return segment.error();
  const RingView request = segment->request_ring();
  const RingView response = segment->response_ring();
  return WorkerChannel{
      std::move(*segment),
      RingReader(request, Doorbell(&request.control->space_ready, supervisor_wakeup_fd)),
      RingWriter(response, Doorbell(&response.control->data_ready, supervisor_wakeup_fd)),
  };
}

}  // namespace infervisor::shm
