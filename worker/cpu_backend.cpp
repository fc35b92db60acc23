// The CPU device: work runs on the calling thread as it is issued, so the steady clock at each
// mark times the stages and there is nothing to wait for, pin or free.
#include <array>
#include <chrono>

#include "worker/device_backend.hpp"

namespace infervisor::worker {
namespace {

using Clock = std::chrono::steady_clock;

class CpuLane final : public DeviceLane {
 public:
  std::optional<c10::Stream> stream() const override { return std::nullopt; }
  void begin() override { marks_.fill(Clock::now()); }
  void end(Stage stage) override { marks_[static_cast<std::size_t>(stage) + 1] = Clock::now(); }
  void synchronize() override {}
  StageDurations durations() const override {
    auto between = [&](std::size_t from) {
      const auto ns =
          std::chrono::duration_cast<std::chrono::nanoseconds>(marks_[from + 1] - marks_[from])
              .count();
      return static_cast<std::uint64_t>(ns > 0 ? ns : 0);
    };
    return {between(0), between(1), between(2)};
  }

 private:
  std::array<Clock::time_point, 4> marks_{};  // begin, then the end of each stage
};

class CpuBackend final : public DeviceBackend {
 public:
  std::unique_ptr<DeviceLane> make_lane() override { return std::make_unique<CpuLane>(); }
  std::string pin(std::span<std::byte>) override { return {}; }
  void unpin(std::span<std::byte>) override {}
  std::string open_ipc(std::span<const std::byte>, std::byte**, std::uint64_t*) override {
    return "this worker runs on the CPU; CUDA shared memory needs a GPU worker";
  }
  void close_ipc(std::byte*) override {}
  void release_cached_memory() override {}
  std::uint64_t memory_bytes() override { return 0; }
  std::string describe() override { return "cpu"; }
  std::string fault() override { return {}; }
};

}  // namespace

std::unique_ptr<DeviceBackend> make_cpu_backend() {
  return std::make_unique<CpuBackend>();
}

}  // namespace infervisor::worker
