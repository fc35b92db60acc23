#include "supervisor/gpu_placement.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/error.hpp"

namespace infervisor::supervisor {
namespace {

std::vector<GpuInfo> gpus(int count, int lost = -1) {
  std::vector<GpuInfo> out;
  for (int gpu = 0; gpu < count; ++gpu) {
    out.push_back({fmt::format("0000:{:02x}:00.0", 0x18 + gpu * 0x10), "NVIDIA H200",
                   gpu == lost ? "" : fmt::format("GPU-0000000{}-aaaa-bbbb-cccc-dddddddddddd", gpu),
                   gpu == lost ? "GPU is lost" : ""});
  }
  return out;
}

DaemonConfig config_with(std::vector<InstanceGroup> groups) {
  DaemonConfig config;
  config.source = "/etc/infervisor/test.yaml";
  ModelConfig model;
  model.name = "resnet";
  model.instance_groups = std::move(groups);
  config.models.push_back(model);
  return config;
}

InstanceGroup cuda(int count, int index) {
  return {count, {DeviceSpec::Kind::kCuda, index, {}}, false, {}};
}
InstanceGroup every_gpu(int count, std::vector<int> list = {}) {
  return {count, {DeviceSpec::Kind::kCuda, 0, {}}, true, std::move(list)};
}

std::string error_of(DaemonConfig config, const std::vector<GpuInfo>& visible) {
  try {
    place_on_gpus(config, visible, "a test");
  } catch (const InfervisorError& error) {
    return error.what();
  }
  return "";
}

TEST(GpuPlacement_test, CudaNGetsItsGpusUuid) {
  auto config = config_with({InstanceGroup{}, cuda(2, 1)});
  EXPECT_TRUE(uses_gpus(config));
  const auto visible = gpus(2);
  place_on_gpus(config, visible, "a test");
  const auto& groups = config.models[0].instance_groups;
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].device.kind, DeviceSpec::Kind::kCpu);
  EXPECT_EQ(groups[1].count, 2);
  EXPECT_EQ(groups[1].device, (DeviceSpec{DeviceSpec::Kind::kCuda, 1, visible[1].uuid}));
}

TEST(GpuPlacement_test, DeviceCudaPlacesCountWorkersOnEveryUsableGpu) {
  auto config = config_with({every_gpu(2)});
  const auto visible = gpus(8, 6);
  place_on_gpus(config, visible, "a test");
  const auto& groups = config.models[0].instance_groups;
  ASSERT_EQ(groups.size(), 7u);  // the lost GPU 6 is skipped
  EXPECT_EQ(total_instances(config.models[0]), 14);
  for (const auto& group : groups) {
    EXPECT_EQ(group.count, 2);
    EXPECT_FALSE(group.every_gpu);
    EXPECT_EQ(group.device.gpu_uuid, visible[group.device.index].uuid);
  }
  EXPECT_EQ(groups[6].device.index, 7);
}

TEST(GpuPlacement_test, GpusListsTheGpusToUse) {
  auto config = config_with({every_gpu(1, {0, 2})});
  place_on_gpus(config, gpus(3), "a test");
  const auto& groups = config.models[0].instance_groups;
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].device.index, 0);
  EXPECT_EQ(groups[1].device.index, 2);
}

TEST(GpuPlacement_test, AMissingOrUnusableGpuIsAClearConfigError) {
  auto message = error_of(config_with({cuda(1, 2)}), gpus(2));
  EXPECT_NE(message.find("test.yaml: models.resnet.instances: GPU 2 (cuda:2) requested, but 2 GPUs "
                         "are visible"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("a test"), std::string::npos) << message;
  message = error_of(config_with({every_gpu(1, {0, 3})}), gpus(2));
  EXPECT_NE(message.find("GPU 3"), std::string::npos) << message;
  message = error_of(config_with({cuda(1, 1)}), gpus(2, 1));
  EXPECT_NE(message.find("GPU 1 (0000:28:00.0) is unusable: GPU is lost"), std::string::npos)
      << message;
  message = error_of(config_with({every_gpu(1)}), {});
  EXPECT_NE(message.find("device: cuda, but no GPU is visible"), std::string::npos) << message;
  message = error_of(config_with({every_gpu(1)}), gpus(1, 0));
  EXPECT_NE(message.find("no visible GPU is usable"), std::string::npos) << message;
}

TEST(GpuPlacement_test, CpuOnlyConfigsNeedNoGpus) {
  auto config = config_with({InstanceGroup{}});
  EXPECT_FALSE(uses_gpus(config));
  place_on_gpus(config, {}, "a test");
  EXPECT_EQ(config.models[0].instance_groups.size(), 1u);
}

}  // namespace
}  // namespace infervisor::supervisor
