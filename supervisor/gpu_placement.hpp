// Where GPU workers run. At start, before any worker is spawned, every instance group on a GPU
// (`cuda:N`, or `cuda` with or without `gpus: [..]`) is resolved against the GPUs the daemon sees
// (gpu_inventory.hpp) into one `cuda:N` group per GPU that carries the GPU's UUID; the worker is
// then started with CUDA_VISIBLE_DEVICES=<that UUID>, so it owns one context on one device, and a
// replacement for it lands on the same GPU. A GPU that is not there is a config error then, not a
// worker failing later.
#pragma once

#include <string_view>
#include <vector>

#include "supervisor/config.hpp"
#include "supervisor/gpu_inventory.hpp"

namespace infervisor::supervisor {

bool uses_gpus(const DaemonConfig& config) noexcept;

// Resolves the groups against `gpus` (index = cuda:N). Throws InfervisorError naming the config
// file, the model and the GPU when one is missing or unusable, or `cuda` finds no usable GPU;
// `source` (where the list came from) ends the message.
void place_on_gpus(DaemonConfig& config, const std::vector<GpuInfo>& gpus, std::string_view source);

// discover_gpus() and place_on_gpus() when some model asks for a GPU; logs each GPU used.
void place_gpu_workers(DaemonConfig& config);

}  // namespace infervisor::supervisor
