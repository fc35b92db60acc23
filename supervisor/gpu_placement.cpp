#include "supervisor/gpu_placement.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/error.hpp"

namespace infervisor::supervisor {
namespace {

[[noreturn]] void fail(const DaemonConfig& config, const ModelConfig& model,
                       const std::string& reason, std::string_view source) {
  throw InfervisorError(ErrorCode::kInvalidArgument,
                        fmt::format("{}: models.{}.instances: {} (GPUs from {})",
                                    config.source.string(), model.name, reason, source));
}

InstanceGroup on_gpu(const InstanceGroup& group, int index, const GpuInfo& gpu) {
  InstanceGroup placed;
  placed.count = group.count;
  placed.device = DeviceSpec{DeviceSpec::Kind::kCuda, index, gpu.uuid};
  return placed;
}

}  // namespace

bool uses_gpus(const DaemonConfig& config) noexcept {
  for (const auto& model : config.models) {
    for (const auto& group : model.instance_groups) {
      if (group.device.kind == DeviceSpec::Kind::kCuda) return true;
    }
  }
  return false;
}

void place_on_gpus(DaemonConfig& config, const std::vector<GpuInfo>& gpus,
                   std::string_view source) {
  const int visible = static_cast<int>(gpus.size());
  for (auto& model : config.models) {
    std::vector<InstanceGroup> placed;
    for (const auto& group : model.instance_groups) {
      if (group.device.kind != DeviceSpec::Kind::kCuda) {
        placed.push_back(group);
        continue;
      }
      std::vector<int> indexes = group.gpus;
      if (group.every_gpu && indexes.empty()) {
        for (int i = 0; i < visible; ++i) {
          if (gpus[i].usable()) indexes.push_back(i);
        }
        if (indexes.empty()) {
          fail(config, model,
               visible == 0 ? std::string("device: cuda, but no GPU is visible")
                            : std::string("device: cuda, but no visible GPU is usable"),
               source);
        }
      } else if (!group.every_gpu) {
        indexes = {group.device.index};
      }
      for (const int index : indexes) {
        if (index >= visible) {
          fail(config, model,
               fmt::format("GPU {} (cuda:{}) requested, but {} GPU{} visible", index, index,
                           visible, visible == 1 ? " is" : "s are"),
               source);
        }
        if (!gpus[index].usable()) {
          fail(config, model,
               fmt::format("GPU {} ({}) is unusable: {}", index, gpus[index].pci_bus_id,
                           gpus[index].problem),
               source);
        }
        placed.push_back(on_gpu(group, index, gpus[index]));
      }
    }
    model.instance_groups = std::move(placed);
  }
}

void place_gpu_workers(DaemonConfig& config) {
  if (!uses_gpus(config)) return;
  const GpuInventory inventory = discover_gpus();
  place_on_gpus(config, inventory.gpus, inventory.source);
  spdlog::info("{} GPU(s) visible (from {})", inventory.gpus.size(), inventory.source);
  for (const auto& model : config.models) {
    for (const auto& group : model.instance_groups) {
      if (group.device.kind != DeviceSpec::Kind::kCuda) continue;
      const auto& gpu = inventory.gpus[static_cast<std::size_t>(group.device.index)];
      spdlog::info("model '{}': {} worker(s) on cuda:{} ({}, {}, {})", model.name, group.count,
                   group.device.index, gpu.model, gpu.pci_bus_id, gpu.uuid);
    }
  }
}

}  // namespace infervisor::supervisor
