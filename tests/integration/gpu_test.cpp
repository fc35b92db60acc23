// GPU workers end to end: the real infervisord and infervisor-worker on a CUDA device. Every test
// reports GTEST_SKIP, not failure, where the worker was built without CUDA or the machine shows
// no GPU (CI); scripts/gpu-check.sh runs them on a GPU machine.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstring>
#include <fstream>
#include <future>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "raw_http.hpp"
#include "running_daemon.hpp"
#include "supervisor/gpu_inventory.hpp"

namespace infervisor::testing {
namespace {

using namespace std::chrono_literals;

#define SKIP_WITHOUT_GPU()                                                                  \
  do {                                                                                      \
    if (!INFERVISOR_TEST_WITH_CUDA) GTEST_SKIP() << "the worker was built without CUDA";    \
    if (supervisor::discover_gpus().gpus.empty()) GTEST_SKIP() << "no GPU on this machine"; \
  } while (false)

std::string model_entry(const std::string& name, const std::string& file, const std::string& extra,
                        const std::string& shape = "[-1, 256]") {
  return "  - name: " + name + "\n    path: " + (models_dir() / file).string() + "\n" + extra +
         "    inputs: [{name: x, dtype: FP32, shape: " + shape + "}]\n" +
         "    outputs: [{name: y, dtype: FP32, shape: " + shape + "}]\n";
}

client::Tensor random_tensor(std::int64_t batch, std::uint32_t seed) {
  std::mt19937 random(seed);
  std::uniform_real_distribution<float> values(-1.0f, 1.0f);
  client::Tensor tensor{"x", DType::kFloat32, {batch, 256}, {}};
  tensor.data.resize(static_cast<std::size_t>(batch) * 256 * sizeof(float));
  for (std::size_t i = 0; i < tensor.data.size(); i += sizeof(float)) {
    const float value = values(random);
    std::memcpy(tensor.data.data() + i, &value, sizeof(float));
  }
  return tensor;
}

client::Tensor scalar_input(float value) {
  client::Tensor tensor{"x", DType::kFloat32, {1}, std::vector<std::byte>(4)};
  std::memcpy(tensor.data.data(), &value, 4);
  return tensor;
}

client::InferRequest request_for(const std::string& model, client::Tensor input) {
  client::InferRequest request;
  request.model = model;
  request.inputs.push_back(std::move(input));
  request.binary = true;
  return request;
}

std::vector<float> floats_of(const client::Tensor& tensor) {
  std::vector<float> out(tensor.data.size() / sizeof(float));
  std::memcpy(out.data(), tensor.data.data(), tensor.data.size());
  return out;
}

unsigned status_of(client::Client& client, const client::InferRequest& request,
                   std::string* message = nullptr) {
  try {
    client.infer(request);
    return 200;
  } catch (const client::HttpError& error) {
    if (message) *message = error.server_message();
    return error.status();
  }
}

// Waits until the daemon's log matches `pattern`; false after `timeout`.
bool log_shows(const RunningDaemon& daemon, const std::string& pattern,
               std::chrono::seconds timeout = 60s) {
  const std::regex wanted(pattern);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::regex_search(daemon.log(), wanted)) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

TEST(Gpu_test, ACudaModelAnswersWhatTheCpuAnswers) {
  SKIP_WITHOUT_GPU();
  RunningDaemon daemon(
      model_entry("mlp_cpu", "mlp.pt", "") +
      model_entry("mlp_gpu", "mlp.pt", "    instances: {count: 1, device: cuda}\n"));
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready(120s)) << daemon.log();
  auto client = daemon.client();
  for (const std::int64_t batch : {1, 7, 64}) {
    const auto input = random_tensor(batch, static_cast<std::uint32_t>(batch));
    const auto cpu = floats_of(client.infer(request_for("mlp_cpu", input)).outputs.at(0));
    const auto gpu = client.infer(request_for("mlp_gpu", input)).outputs.at(0);
    EXPECT_EQ(gpu.shape, (std::vector<std::int64_t>{batch, 256}));
    const auto got = floats_of(gpu);
    ASSERT_EQ(got.size(), cpu.size());
    float largest = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
      // FP32 on both (no TF32): only the order of the sums differs.
      ASSERT_NEAR(got[i], cpu[i], 1e-4f * (1.0f + std::abs(cpu[i])))
          << "batch " << batch << " @" << i;
      largest = std::max(largest, std::abs(cpu[i]));
    }
    EXPECT_GT(largest, 0.0f);
  }
  // READY named the GPU and its UUID; the worker was placed by UUID.
  const auto log = daemon.log();
  EXPECT_TRUE(
      std::regex_search(log, std::regex("mlp_gpu' worker 0 .*ready .*device cuda:0 \\([^,]+, "
                                        "GPU-[0-9a-f-]+, [0-9]+ of [0-9]+ MiB in use")))
      << log;
  EXPECT_NE(log.find("rings 128 MiB pinned"), std::string::npos) << log;
  EXPECT_EQ(daemon.stop().exit_code(), 0);
}

TEST(Gpu_test, TwoWorkersOnOneGpuEachOwnAContextAndShareTheJobs) {
  SKIP_WITHOUT_GPU();
  RunningDaemon daemon(
      model_entry("mlp", "mlp.pt", "    instances: {count: 2, device: 'cuda:0'}\n"),
      "log_level: debug\n");
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready(120s)) << daemon.log();
  const auto workers = daemon.worker_pids();
  ASSERT_EQ(workers.size(), 2u);

  // Enough concurrent jobs that the scheduler (fewest outstanding first) uses both workers.
  std::vector<std::future<unsigned>> jobs;
  for (int c = 0; c < 8; ++c) {
    jobs.push_back(std::async(std::launch::async, [&, c] {
      auto client = daemon.client();
      for (int i = 0; i < 20; ++i) {
        const auto status = status_of(client, request_for("mlp", random_tensor(16, c * 100 + i)));
        if (status != 200) return status;
      }
      return 200u;
    }));
  }
  for (auto& job : jobs)
    EXPECT_EQ(job.get(), 200u);
  const auto log = daemon.log();
  for (const pid_t pid : workers) {
    // record_job_times logs each answer with the worker's pid at debug level.
    EXPECT_TRUE(std::regex_search(
        log, std::regex("worker [01] \\(pid " + std::to_string(pid) + "\\): job [0-9]+ times")))
        << "worker pid " << pid << " answered no job";
    EXPECT_TRUE(std::regex_search(
        log, std::regex("\\(pid " + std::to_string(pid) + "\\): ready .*GPU-[0-9a-f]")))
        << log;
  }
  // One CUDA context per worker: nvidia-smi lists each worker's pid once.
  const auto smi = std::filesystem::path("/usr/bin/nvidia-smi");
  if (std::filesystem::exists(smi)) {
    const auto listing = daemon.folder() / "apps.csv";
    const auto status =
        ChildProcess::spawn(
            "/bin/sh", {"-c", smi.string() + " --query-compute-apps=pid --format=csv,noheader > " +
                                  listing.string()})
            .wait();
    std::ifstream in(listing);
    std::multiset<pid_t> pids;
    for (pid_t pid = 0; in >> pid;)
      pids.insert(pid);
    if (status.success() && !pids.empty()) {
      for (const pid_t pid : workers)
        EXPECT_EQ(pids.count(pid), 1u) << "pid " << pid;
    } else {
      std::printf("nvidia-smi lists no compute processes here (a VM or container hides them)\n");
    }
  }
  EXPECT_EQ(daemon.stop().exit_code(), 0);
}

TEST(Gpu_test, AJobThatExhaustsGpuMemoryFailsAndTheWorkerServesOn) {
  SKIP_WITHOUT_GPU();
  RunningDaemon daemon(model_entry("allocate", "allocate.pt",
                                   "    instances: {count: 1, device: 'cuda:0'}\n", "[-1]"));
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready(120s)) << daemon.log();
  const auto workers = daemon.worker_pids();
  auto client = daemon.client();
  std::string message;
  // 100,000 GiB: far beyond any GPU.
  EXPECT_EQ(status_of(client, request_for("allocate", scalar_input(100000)), &message), 500u);
  EXPECT_EQ(message.rfind("CUDA out of memory", 0), 0u) << message;
  // 1 GiB, then nothing: both succeed on the same worker.
  for (const float gib : {1.0f, 0.0f}) {
    const auto result = client.infer(request_for("allocate", scalar_input(gib)));
    EXPECT_EQ(floats_of(result.outputs.at(0)), (std::vector<float>{gib}));
  }
  EXPECT_EQ(daemon.worker_pids(), workers);
  // The 1 GiB stays in the worker's caching allocator, and its report says so.
  const auto stats = raw_request(daemon.socket(), "GET", "/v2/models/allocate/stats");
  ASSERT_EQ(stats.status, 200u) << stats.body;
  const auto worker =
      boost::json::parse(stats.body).at("model_stats").at(0).at("infervisor").at("workers").at(0);
  EXPECT_GE(worker.at("gpu_memory_bytes").to_number<std::uint64_t>(), std::uint64_t{1} << 30)
      << stats.body;
  EXPECT_EQ(daemon.stop().exit_code(), 0);
}

TEST(Gpu_test, AStickyDeviceErrorEndsTheWorkerWhichIsReplaced) {
  SKIP_WITHOUT_GPU();
  RunningDaemon daemon(
      model_entry("gather", "gather.pt", "    instances: {count: 1, device: 'cuda:0'}\n", "[-1]"));
  daemon.start();
  ASSERT_TRUE(daemon.wait_ready(120s)) << daemon.log();
  const auto before = daemon.worker_pids();
  auto client = daemon.client();
  std::string message;
  // An index past the end: a device-side assert, which poisons the CUDA context for good.
  EXPECT_EQ(status_of(client, request_for("gather", scalar_input(1e9f)), &message), 500u);
  EXPECT_NE(message.find("CUDA"), std::string::npos) << message;
  EXPECT_TRUE(log_shows(daemon, "the device is unusable, the worker exits.*exited with status 6"))
      << daemon.log();
  EXPECT_TRUE(log_shows(daemon,
                        "worker 0 \\(pid [0-9]+\\): ready in .*\\n(.|\\n)*worker 0 \\(pid "
                        "[0-9]+\\): ready in"))
      << daemon.log();
  EXPECT_NE(daemon.worker_pids(), before);
  client::Tensor valid{"x", DType::kFloat32, {2}, std::vector<std::byte>(8)};
  const auto result = daemon.client().infer(request_for("gather", valid));
  EXPECT_EQ(floats_of(result.outputs.at(0)), (std::vector<float>{0, 0}));
  EXPECT_EQ(daemon.stop().exit_code(), 0);
}

}  // namespace
}  // namespace infervisor::testing
