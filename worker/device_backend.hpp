// What the worker's libtorch code needs from its device beyond generic libtorch: a stream to
// queue each job's work on, a clock for the job's stages, page-locked host memory, and the CUDA
// fault handling. Internal to the libtorch translation units (it includes a c10 header; see
// model_runner.hpp for why nothing torch-flavoured may reach the rest of the worker).
//
// Two implementations: CPU (cpu_backend.cpp, always built, run by every CPU test) and CUDA
// (cuda_backend.cpp, built only when libtorch has CUDA). model_runner.cpp is written against
// this interface only, so the CPU tests exercise the same job path a GPU worker runs: inputs
// copied in, forward(), outputs copied straight into the response record, one synchronize.
#pragma once

#include <c10/core/Stream.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "worker/model_runner.hpp"

namespace infervisor::worker {

enum class Stage { kInputCopy = 0, kForward = 1, kOutputCopy = 2 };

// One thread's lane on the device: the stream its jobs are queued on and the marks that time
// them. Not thread-safe; each thread that runs jobs has its own.
class DeviceLane {
 public:
  virtual ~DeviceLane() = default;
  // The stream to make current while queuing a job's work; nullopt: the work runs on the calling
  // thread as it is issued (CPU).
  virtual std::optional<c10::Stream> stream() const = 0;
  // Marks the start of a job, then the end of each stage as its work is queued.
  virtual void begin() = 0;
  virtual void end(Stage stage) = 0;
  // Waits until everything queued on the lane is done. Throws (c10::Error or std::runtime_error)
  // if the device reports an error.
  virtual void synchronize() = 0;
  // The stages' durations between the marks, as the device ran them; valid after synchronize().
  virtual StageDurations durations() const = 0;
};

class DeviceBackend {
 public:
  virtual ~DeviceBackend() = default;
  virtual std::unique_ptr<DeviceLane> make_lane() = 0;
  // Page-locks `memory` until the backend is destroyed, so that copies between it and the device
  // are DMA straight from and to it. Empty: done (or nothing to do); else why it failed.
  virtual std::string pin(std::span<std::byte> memory) = 0;
  // Undoes pin() of the same memory before it is unmapped (a client's region let go).
  virtual void unpin(std::span<std::byte> memory) = 0;
  // Opens another process's exported GPU memory (ModelRunner::open_ipc_memory). Empty: done.
  virtual std::string open_ipc(std::span<const std::byte> handle, std::byte** base,
                               std::uint64_t* size) = 0;
  virtual void close_ipc(std::byte* base) = 0;
  // After an out-of-memory error: gives the allocator's cached blocks back to the device.
  virtual void release_cached_memory() = 0;
  // Device memory this process's allocator holds now (reserved, cached blocks included), bytes;
  // 0 on a CPU. Cheap enough to ask after every job.
  virtual std::uint64_t memory_bytes() = 0;
  // For READY: "NVIDIA H200, GPU-5a8f..., 1034 of 143771 MiB in use (all processes)".
  virtual std::string describe() = 0;
  // After a failed job: empty if the device still works, else the sticky error that leaves every
  // later call failing (an illegal address, a device-side assert, an Xid): the worker must exit.
  virtual std::string fault() = 0;
};

std::unique_ptr<DeviceBackend> make_cpu_backend();
#ifdef INFERVISOR_WITH_CUDA
std::unique_ptr<DeviceBackend> make_cuda_backend(int device_index);
#endif

}  // namespace infervisor::worker
