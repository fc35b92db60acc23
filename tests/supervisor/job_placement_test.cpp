// Which workers may run a job: anywhere, unless its tensors are in CUDA regions, whose GPU it
// must run on.
#include "supervisor/job_placement.hpp"

#include <gtest/gtest.h>

namespace infervisor::supervisor {
namespace {

ClientRegionPtr region(shm::RegionKind kind, int device_id, const char* name) {
  auto made = std::make_shared<ClientRegion>();
  made->kind = kind;
  made->name = name;
  made->device_id = device_id;
  return made;
}

DeviceSpec gpu(int index) {
  return {DeviceSpec::Kind::kCuda, index, "GPU-x"};
}

ModelConfig model_on(std::vector<DeviceSpec> devices) {
  static const std::string kName = "m";
  ModelConfig model;
  model.name = kName;  // (assigning the literal trips GCC 12's false -Wrestrict)
  model.instance_groups.clear();
  for (const auto& device : devices)
    model.instance_groups.push_back(InstanceGroup{1, device, false, {}});
  return model;
}

unsigned status_of(auto&& call) {
  try {
    call();
    return 200;
  } catch (const HttpError& error) {
    return error.status();
  }
}

TEST(JobPlacement_test, OnlyCudaRegionsBindAJobToAGpu) {
  const auto model = model_on({DeviceSpec{}, gpu(0), gpu(1)});
  InferRequest request;
  request.inputs.push_back({"x", DType::kFloat32, {1}, {}, {}, std::nullopt});
  EXPECT_EQ(required_gpu(request, model), std::nullopt);
  request.inputs[0].region = RegionSlice{region(shm::RegionKind::kSystem, -1, "host"), 0, 4};
  EXPECT_EQ(required_gpu(request, model), std::nullopt);
  request.outputs.push_back(
      {"y", false, RegionSlice{region(shm::RegionKind::kCuda, 1, "g"), 0, 4}});
  EXPECT_EQ(required_gpu(request, model), 1);
}

TEST(JobPlacement_test, RefusesRegionsOnTwoGpusOrAGpuWithoutWorkers) {
  InferRequest request;
  request.inputs.push_back({"x",
                            DType::kFloat32,
                            {1},
                            {},
                            {},
                            RegionSlice{region(shm::RegionKind::kCuda, 0, "a"), 0, 4}});
  request.outputs.push_back(
      {"y", false, RegionSlice{region(shm::RegionKind::kCuda, 1, "b"), 0, 4}});
  EXPECT_EQ(status_of([&] { required_gpu(request, model_on({gpu(0), gpu(1)})); }), 400u);
  request.outputs.clear();
  EXPECT_EQ(status_of([&] { required_gpu(request, model_on({gpu(1)})); }), 400u);
  EXPECT_EQ(status_of([&] { required_gpu(request, model_on({DeviceSpec{}})); }), 400u);
  try {
    required_gpu(request, model_on({gpu(1)}));
  } catch (const HttpError& error) {
    EXPECT_NE(std::string(error.what()).find("no worker on GPU 0"), std::string::npos)
        << error.what();
  }
}

TEST(JobPlacement_test, GpusWithWorkersAreSortedAndListedOnce) {
  const auto a = model_on({gpu(2), DeviceSpec{}, gpu(0)});
  const auto b = model_on({gpu(2)});
  const auto cpu = model_on({DeviceSpec{}});
  const ModelConfig* models[] = {&a, &b, &cpu};
  EXPECT_EQ(gpus_with_workers(models), (std::vector<int>{0, 2}));
  const ModelConfig* only_cpu[] = {&cpu};
  EXPECT_TRUE(gpus_with_workers(only_cpu).empty());
}

TEST(JobPlacement_test, DeviceSuits) {
  EXPECT_TRUE(device_suits(DeviceSpec{}, std::nullopt));
  EXPECT_TRUE(device_suits(gpu(2), std::nullopt));
  EXPECT_TRUE(device_suits(gpu(2), 2));
  EXPECT_FALSE(device_suits(gpu(1), 2));
  EXPECT_FALSE(device_suits(DeviceSpec{}, 0));
}

}  // namespace
}  // namespace infervisor::supervisor
