// Which workers may run a job. Most jobs may run on any of their model's workers; a job with a
// tensor in a CUDA shared-memory region must run on a worker of that region's GPU, since a
// worker sees only its own GPU and opens the client's memory in place there. Pure, unit-tested.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "supervisor/config.hpp"
#include "supervisor/job.hpp"

namespace infervisor::supervisor {

// The GPU (DeviceSpec::index) that `request`'s CUDA regions are on; nullopt when it uses none.
// Throws HttpError 400 when they are on several GPUs, or when `model` has no worker on that GPU.
std::optional<int> required_gpu(const InferRequest& request, const ModelConfig& model);

// The GPUs (DeviceSpec::index) that `models` place workers on, sorted, each once: where a CUDA
// region may be registered.
std::vector<int> gpus_with_workers(std::span<const ModelConfig* const> models);

// Whether a worker on `device` may run a job that needs `gpu`.
inline bool device_suits(const DeviceSpec& device, std::optional<int> gpu) noexcept {
  return !gpu || (device.kind == DeviceSpec::Kind::kCuda && device.index == *gpu);
}

}  // namespace infervisor::supervisor
