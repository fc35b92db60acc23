// The supervisor's end of a worker channel, as the worker tests play it: build request frames,
// send raw records, and take records off the response ring as owned copies.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/dtype.hpp"
#include "shm/channel.hpp"
#include "shm/frame.hpp"

namespace infervisor::worker::testing {

struct HostTensor {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<std::int64_t> shape;
  std::vector<std::byte> data;

  template <class T>
  std::vector<T> values() const {
    std::vector<T> out(data.size() / sizeof(T));
    if (!data.empty()) std::memcpy(out.data(), data.data(), data.size());
    return out;
  }
};

template <class T>
HostTensor make_tensor(std::string name, DType dtype, std::vector<std::int64_t> shape,
                       const std::vector<T>& values) {
  HostTensor out{std::move(name), dtype, std::move(shape),
                 std::vector<std::byte>(values.size() * sizeof(T))};
  if (!values.empty()) std::memcpy(out.data.data(), values.data(), out.data.size());
  return out;
}

// A record taken off the response ring, copied out of it.
struct Received {
  shm::RecordType type = shm::RecordType::kPadding;
  std::uint64_t job_id = 0;
  std::vector<std::byte> payload;

  std::string text() const {
    return {reinterpret_cast<const char*>(payload.data()), payload.size()};
  }
  // The tensors of a RESPONSE record; fails the test (and returns none) if it does not decode.
  std::vector<HostTensor> tensors() const;
  // The kind and message of an ERROR record; fails the test if it does not decode.
  shm::JobErrorKind error_kind() const;
  std::string error_message() const;
  // The worker's stage times in a RESPONSE or ERROR record; fails the test if they do not decode.
  shm::StageTimes stages() const;
};

class TestChannel {
 public:
  TestChannel(std::string_view prefix, std::uint64_t generation,
              const shm::SegmentLayout& layout = {1 << 20, 1 << 20});

  const std::string& segment_name() const noexcept { return channel_.segment.name(); }
  shm::SupervisorChannel& raw() noexcept { return channel_; }

  void send_request(std::uint64_t job_id, std::string_view model,
                    const std::vector<HostTensor>& tensors,
                    const std::vector<std::string_view>& output_names = {});
  void send_record(shm::RecordType type, std::uint64_t job_id, std::span<const std::byte> payload);

  // The next record, waiting up to `timeout`; nullopt if none came.
  std::optional<Received> receive(std::chrono::milliseconds timeout);

 private:
  shm::SupervisorChannel channel_;
};

}  // namespace infervisor::worker::testing
