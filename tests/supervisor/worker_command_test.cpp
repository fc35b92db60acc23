// The worker's command line and environment: what the daemon promises each worker.
#include "supervisor/worker_command.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "supervisor/worker_process.hpp"

namespace infervisor::supervisor {
namespace {

ModelConfig model() {
  ModelConfig config;
  config.name = "mlp";
  config.path = "/models/mlp.pt";
  return config;
}

WorkerIdentity identity(DeviceSpec device, int threads) {
  WorkerIdentity id;
  id.instance = 3;
  id.device = std::move(device);
  id.threads = threads;
  id.interop_threads = 2;
  return id;
}

std::string argument_after(const WorkerCommand& command, std::string_view flag) {
  const auto& args = command.arguments();
  const auto it = std::find(args.begin(), args.end(), flag);
  return it == args.end() || it + 1 == args.end() ? "<missing>" : *(it + 1);
}

bool has(const std::vector<std::string>& entries, std::string_view entry) {
  return std::find(entries.begin(), entries.end(), entry) != entries.end();
}

TEST(WorkerCommand_test, TheBlasUnderLibtorchGetsTheWorkersIntraOpThreads) {
  const WorkerCommand command(DaemonConfig{}, model(), identity(DeviceSpec{}, 3), "seg", 7);
  EXPECT_EQ(argument_after(command, "--threads"), "3");
  EXPECT_EQ(argument_after(command, "--interop-threads"), "2");
  EXPECT_TRUE(has(command.environment(), "OMP_NUM_THREADS=3"));
  EXPECT_TRUE(has(command.environment(), "OPENBLAS_NUM_THREADS=3"));
}

TEST(WorkerCommand_test, ACpuWorkerSeesNoGpu) {
  const WorkerCommand command(DaemonConfig{}, model(), identity(DeviceSpec{}, 1), "seg", 7);
  EXPECT_EQ(argument_after(command, "--device"), "cpu");
  EXPECT_TRUE(has(command.environment(), "CUDA_VISIBLE_DEVICES="));
}

TEST(WorkerCommand_test, APlacedGpuWorkerSeesItsOneGpuAsCuda0) {
  DeviceSpec gpu{DeviceSpec::Kind::kCuda, 5, "GPU-1234"};
  const WorkerCommand command(DaemonConfig{}, model(), identity(gpu, 1), "seg", 7);
  EXPECT_EQ(argument_after(command, "--device"), "cuda:0");
  EXPECT_TRUE(has(command.environment(), "CUDA_VISIBLE_DEVICES=GPU-1234"));
  EXPECT_TRUE(has(command.environment(), "OMP_NUM_THREADS=1"));
}

TEST(WorkerCommand_test, AnUnplacedGpuKeepsTheDaemonsView) {
  DeviceSpec gpu{DeviceSpec::Kind::kCuda, 1, ""};
  const WorkerCommand command(DaemonConfig{}, model(), identity(gpu, 1), "seg", 7);
  EXPECT_EQ(argument_after(command, "--device"), "cuda:1");
  for (const auto& entry : command.environment())
    EXPECT_NE(entry.rfind("CUDA_VISIBLE_DEVICES=", 0), 0u) << entry;
}

}  // namespace
}  // namespace infervisor::supervisor
