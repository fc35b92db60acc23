#include "supervisor/job_placement.hpp"

#include <algorithm>
#include <string>

#include "supervisor/http_reply.hpp"

namespace infervisor::supervisor {

std::optional<int> required_gpu(const InferRequest& request, const ModelConfig& model) {
  std::optional<int> gpu;
  std::string first;  // the tensor that decided `gpu`, for the message
  auto consider = [&](const std::optional<RegionSlice>& slice, std::string_view what,
                      std::string_view name) {
    if (!slice || slice->region->kind != shm::RegionKind::kCuda) return;
    const int device = slice->region->device_id;
    const std::string here =
        fmt::format("{} '{}' (CUDA region '{}', GPU {})", what, name, slice->region->name, device);
    if (gpu && *gpu != device) {
      fail_request(400, "{} and {} are on different GPUs; one job runs on one GPU", first, here);
    }
    if (!gpu) first = here;
    gpu = device;
  };
  for (const auto& input : request.inputs)
    consider(input.region, "input", input.name);
  for (const auto& output : request.outputs)
    consider(output.region, "output", output.name);
  if (!gpu) return std::nullopt;
  for (const auto& group : model.instance_groups) {
    if (device_suits(group.device, gpu)) return gpu;
  }
  fail_request(400, "model '{}' has no worker on GPU {}, where {} is", model.name, *gpu, first);
}

std::vector<int> gpus_with_workers(std::span<const ModelConfig* const> models) {
  std::vector<int> gpus;
  for (const ModelConfig* model : models) {
    for (const auto& group : model->instance_groups) {
      if (group.device.kind == DeviceSpec::Kind::kCuda) gpus.push_back(group.device.index);
    }
  }
  std::sort(gpus.begin(), gpus.end());
  gpus.erase(std::unique(gpus.begin(), gpus.end()), gpus.end());
  return gpus;
}

}  // namespace infervisor::supervisor
