#include "supervisor/config.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "common/error.hpp"
#include "supervisor/shm_space.hpp"

namespace infervisor::supervisor {
namespace {

class Config_test : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = std::filesystem::temp_directory_path() /
              ("infervisor-config-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(folder_);
    std::ofstream(folder_ / "model.pt") << "not really a model";
  }
  void TearDown() override { std::filesystem::remove_all(folder_); }

  DaemonConfig parse(const std::string& text) { return parse_config(text, folder_ / "test.yaml"); }

  // The error message parse() throws, or "" if it parsed.
  std::string error_of(const std::string& text) {
    try {
      parse(text);
    } catch (const InfervisorError& error) {
      return error.what();
    }
    return "";
  }

  static std::string model_with(const std::string& extra) {
    return "models:\n  - name: m\n    path: model.pt\n" + extra +
           "    inputs: [{name: x, dtype: FP32, shape: [-1, 4]}]\n"
           "    outputs: [{name: y, dtype: float32, shape: [-1, 4]}]\n";
  }

  std::filesystem::path folder_;
};

TEST_F(Config_test, ParsesAFullConfig) {
  const auto config = parse(
      "socket: /tmp/x.sock\ntcp: 8000\nlog_level: debug\nstartup_timeout: 5s\n"
      "drain_timeout: 1500ms\nshutdown_timeout: 2m\nspin: 20us\nmax_request_size: 1MiB\n"
      "shm_prefix: test_prefix\n" +
      model_with("    version: '7'\n    instances: [{count: 2, device: cpu}, {count: 1, device: "
                 "'cuda:1'}]\n"
                 "    threads: 3\n    ring_size: 1MiB\n    max_inflight: 9\n    max_queue: 10\n"));
  EXPECT_EQ(config.socket_path, "/tmp/x.sock");
  ASSERT_TRUE(config.tcp);
  EXPECT_EQ(config.tcp->host, "127.0.0.1");  // loopback unless told otherwise
  EXPECT_EQ(config.tcp->port, 8000);
  EXPECT_EQ(config.log_level, spdlog::level::debug);
  EXPECT_EQ(config.startup_timeout, std::chrono::seconds(5));
  EXPECT_EQ(config.drain_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(config.shutdown_timeout, std::chrono::minutes(2));
  EXPECT_EQ(config.spin, std::chrono::microseconds(20));
  EXPECT_EQ(config.max_request_bytes, 1u << 20);
  EXPECT_EQ(config.shm_prefix, "test_prefix");
  ASSERT_EQ(config.models.size(), 1u);
  const auto& model = config.models[0];
  EXPECT_EQ(model.version, "7");
  EXPECT_EQ(model.path, folder_ / "model.pt");  // relative to the config file's folder
  ASSERT_EQ(model.instance_groups.size(), 2u);
  EXPECT_EQ(model.instance_groups[1].device, (DeviceSpec{DeviceSpec::Kind::kCuda, 1, {}}));
  EXPECT_FALSE(model.instance_groups[1].every_gpu);
  EXPECT_EQ(total_instances(model), 3);
  EXPECT_EQ(model.intra_op_threads, 3);
  EXPECT_EQ(model.ring_bytes, 1u << 20);
  EXPECT_EQ(model.max_inflight_per_worker, 9);
  EXPECT_EQ(model.max_queue, 10u);
  ASSERT_EQ(model.inputs.size(), 1u);
  EXPECT_EQ(model.inputs[0].dims, (std::vector<std::int64_t>{-1, 4}));
  EXPECT_EQ(model.outputs[0].dtype, DType::kFloat32);
  EXPECT_EQ(config.find_model("m"), &config.models[0]);
  EXPECT_EQ(config.find_model("other"), nullptr);
}

TEST_F(Config_test, DefaultsAreSensible) {
  const auto config = parse(model_with(""));
  EXPECT_FALSE(config.tcp);
  EXPECT_FALSE(config.socket_path.empty());
  EXPECT_EQ(total_instances(config.models[0]), 1);
  EXPECT_EQ(config.models[0].instance_groups[0].device.kind, DeviceSpec::Kind::kCpu);
}

TEST_F(Config_test, LibrariesAreResolvedAgainstTheConfigFolderInOrder) {
  std::filesystem::create_directories(folder_ / "ops");
  std::ofstream(folder_ / "ops" / "libfirst.so") << "not really a library";
  std::ofstream(folder_ / "libsecond.so") << "not really a library";
  const auto config = parse(model_with("    libraries: [ops/libfirst.so, " +
                                       (folder_ / "libsecond.so").string() + "]\n"));
  EXPECT_EQ(config.models[0].libraries,
            (std::vector<std::filesystem::path>{folder_ / "ops" / "libfirst.so",
                                                folder_ / "libsecond.so"}));
  EXPECT_TRUE(parse(model_with("")).models[0].libraries.empty());
}

TEST_F(Config_test, AMissingLibraryNamesTheFileTheLineAndTheKey) {
  const auto message =
      error_of(model_with("    libraries:\n      - model.pt\n      - libnope.so\n"));
  // Lines 1-5: "models:", "- name", "path", "libraries:", "- model.pt"; then this one.
  EXPECT_NE(message.find("test.yaml:6: models.m.libraries[1]: '" +
                         (folder_ / "libnope.so").string() + "' is not a readable file"),
            std::string::npos)
      << message;
}

TEST_F(Config_test, CpuThreadsShareTheCoresWithoutOversubscribing) {
  constexpr auto kCpu = DeviceSpec::Kind::kCpu;
  auto config = parse(model_with("    instances: {count: 3}\n"));
  EXPECT_EQ(thread_plan(config, config.models[0], kCpu, 8), (ThreadPlan{2, 1}));  // floor(8 / 3)
  EXPECT_EQ(thread_plan(config, config.models[0], kCpu, 2), (ThreadPlan{1, 1}));  // at least 1
  config.models[0].intra_op_threads = 5;
  EXPECT_EQ(thread_plan(config, config.models[0], kCpu, 2), (ThreadPlan{5, 1}));  // explicit wins
}

TEST_F(Config_test, GpuWorkersCountInTheShareAndGetTheGpuDefault) {
  // 2 CPU workers and 2 GPU workers share 16 cores: 4 each at most.
  auto config = parse(model_with("    instances: [{count: 2}, {count: 2, device: 'cuda:0'}]\n"));
  const auto& model = config.models[0];
  EXPECT_EQ(thread_plan(config, model, DeviceSpec::Kind::kCpu, 16), (ThreadPlan{4, 1}));
  EXPECT_EQ(thread_plan(config, model, DeviceSpec::Kind::kCuda, 16),
            (ThreadPlan{std::min(kGpuIntraOpThreads, 4), 1}));
  EXPECT_EQ(thread_plan(config, model, DeviceSpec::Kind::kCuda, 2), (ThreadPlan{1, 1}));
}

TEST_F(Config_test, InteropThreadsAreAModelKey) {
  auto config = parse(model_with("    threads: 2\n    interop_threads: 3\n"));
  EXPECT_EQ(config.models[0].interop_threads, 3);
  EXPECT_EQ(thread_plan(config, config.models[0], DeviceSpec::Kind::kCpu, 64), (ThreadPlan{2, 3}));
  config = parse(model_with(""));
  EXPECT_EQ(config.models[0].interop_threads, 0);  // default: 1
  EXPECT_EQ(thread_plan(config, config.models[0], DeviceSpec::Kind::kCpu, 64).inter_op, 1);
}

TEST_F(Config_test, GpuModelsSpinLongerUnlessTheConfigSaysOtherwise) {
  auto config = parse(model_with(""));
  EXPECT_EQ(config.spin, std::chrono::microseconds(50));
  EXPECT_EQ(config.spin_while_busy, std::chrono::milliseconds(1));
  config = parse(model_with("    instances: {device: cuda}\n"));
  EXPECT_EQ(config.spin, DaemonConfig::kGpuSpin);
  EXPECT_EQ(config.spin_while_busy, DaemonConfig::kGpuSpinWhileBusy);
  config =
      parse("spin: 20us\nspin_while_busy: 2ms\n" + model_with("    instances: {device: cuda}\n"));
  EXPECT_EQ(config.spin, std::chrono::microseconds(20));
  EXPECT_EQ(config.spin_while_busy, std::chrono::milliseconds(2));
}

TEST_F(Config_test, DeviceCudaMeansEveryGpuOrTheListedOnes) {
  auto config = parse(model_with("    instances: {count: 2, device: cuda}\n"));
  const auto& every = config.models[0].instance_groups[0];
  EXPECT_EQ(every.device.kind, DeviceSpec::Kind::kCuda);
  EXPECT_TRUE(every.every_gpu);
  EXPECT_TRUE(every.gpus.empty());
  EXPECT_EQ(every.count, 2);
  config = parse(model_with("    instances: {count: 1, device: cuda, gpus: [0, 2]}\n"));
  EXPECT_EQ(config.models[0].instance_groups[0].gpus, (std::vector<int>{0, 2}));
}

TEST_F(Config_test, DynamicBatchingIsPerModelAndCountsBatchesInFlight) {
  auto config =
      parse(model_with("    dynamic_batching: {max_batch_size: 32, max_queue_delay: 200us,"
                       " preferred_batch_sizes: [16, 8]}\n"));
  const auto& batching = config.models[0].batching;
  EXPECT_TRUE(batching.enabled());
  EXPECT_EQ(batching.max_batch_size, 32);
  EXPECT_EQ(batching.max_queue_delay, std::chrono::microseconds(200));
  EXPECT_EQ(batching.preferred_batch_sizes, (std::vector<std::int64_t>{8, 16}));
  EXPECT_EQ(config.models[0].max_inflight_per_worker, ModelConfig::kBatchesInFlight);
  config = parse(model_with("    max_inflight: 5\n    dynamic_batching: {max_batch_size: 4}\n"));
  EXPECT_EQ(config.models[0].max_inflight_per_worker, 5);
  EXPECT_EQ(config.models[0].batching.max_queue_delay, std::chrono::microseconds(0));
  EXPECT_FALSE(parse(model_with("")).models[0].batching.enabled());
}

TEST_F(Config_test, PriorityLevelsAndTheDefaultLevel) {
  auto config = parse(model_with("    priority_levels: 3\n"));
  EXPECT_EQ(config.models[0].priority_levels, 3);
  EXPECT_EQ(config.models[0].default_priority_level, 3);  // unset: the last
  config = parse(model_with("    priority_levels: 3\n    default_priority_level: 1\n"));
  EXPECT_EQ(config.models[0].default_priority_level, 1);
  EXPECT_EQ(parse(model_with("")).models[0].priority_levels, 0);
  EXPECT_NE(error_of(model_with("    default_priority_level: 1\n")).find("needs priority_levels"),
            std::string::npos);
  EXPECT_NE(error_of(model_with("    priority_levels: 2\n    default_priority_level: 3\n")), "");
  EXPECT_NE(error_of(model_with("    priority_levels: 0\n")), "");
}

TEST_F(Config_test, DynamicBatchingRefusesWhatCannotBatch) {
  EXPECT_NE(error_of(model_with("    dynamic_batching: {max_queue_delay: 1ms}\n"))
                .find("dynamic_batching.max_batch_size: is missing"),
            std::string::npos);
  EXPECT_NE(error_of(model_with("    dynamic_batching: {max_batch_size: 0}\n")), "");
  EXPECT_NE(
      error_of(model_with("    dynamic_batching: {max_batch_size: 8, max_queue_delay: 11s}\n"))
          .find("at most 10s"),
      std::string::npos);
  EXPECT_NE(error_of(model_with(
                "    dynamic_batching: {max_batch_size: 8, preferred_batch_sizes: [9]}\n")),
            "");
  EXPECT_NE(
      error_of(
          model_with("    dynamic_batching: {max_batch_size: 8, preferred_batch_sizes: [2, 2]}\n"))
          .find("twice"),
      std::string::npos);
  EXPECT_NE(error_of(model_with("    dynamic_batching: {max_batch_size: 8, delay: 1ms}\n")), "");
  const auto fixed = error_of(
      "models:\n  - name: m\n    path: model.pt\n    dynamic_batching: {max_batch_size: 8}\n"
      "    inputs: [{name: x, dtype: FP32, shape: [-1, 4]}]\n"
      "    outputs: [{name: y, dtype: FP32, shape: [4]}]\n");
  EXPECT_NE(fixed.find("output 'y' has shape [4]"), std::string::npos) << fixed;
  EXPECT_NE(fixed.find("free first dimension"), std::string::npos) << fixed;
}

TEST_F(Config_test, ErrorsNameTheFileTheLineTheKeyAndTheReason) {
  const auto message = error_of("log_level: info\nbogus: 1\n" + model_with(""));
  EXPECT_NE(message.find("test.yaml:2"), std::string::npos) << message;
  EXPECT_NE(message.find("bogus"), std::string::npos) << message;
  EXPECT_NE(message.find("unknown key"), std::string::npos) << message;
}

// Found by tests/fuzz/config_fuzzer (corpus/config/regress-list-as-key.yaml): a key that is a
// list escaped as yaml-cpp's own exception from the top level, with no file name.
TEST_F(Config_test, AKeyThatIsAListOrAMapIsAConfigError) {
  EXPECT_NE(error_of("? [a, b]\n: 1\n" + model_with(""))
                .find("test.yaml:1: (top level): a key "
                      "must be a plain name"),
            std::string::npos);
  EXPECT_NE(error_of(model_with("    ? {a: 1}\n    : 2\n")).find("models[0]: a key must be"),
            std::string::npos);
}

TEST_F(Config_test, RejectsEveryBadValue) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"models: []\n", "models"},
      {"log_level: loud\n" + model_with(""), "log_level"},
      {"tcp: nowhere:99999\n" + model_with(""), "tcp"},
      {"spin: 1h\n" + model_with(""), "spin"},
      {"spin: 1s\n" + model_with(""), "spin"},
      {"drain_timeout: -3s\n" + model_with(""), "drain_timeout"},
      {"max_request_size: 12XB\n" + model_with(""), "max_request_size"},
      {"shm_prefix: a/b\n" + model_with(""), "shm_prefix"},
      {model_with("    ring_size: 1KiB\n"), "ring_size"},
      {model_with("    instances: {count: 0}\n"), "count"},
      {model_with("    instances: {device: gpu}\n"), "device"},
      {model_with("    instances: {device: 'cuda:x'}\n"), "device"},
      {model_with("    threads: -1\n"), "threads"},
      {model_with("    interop_threads: -1\n"), "interop_threads"},
      {model_with("    interop_threads: many\n"), "interop_threads"},
      {model_with("    instances: {device: cpu, gpus: [0]}\n"), "needs device: cuda"},
      {model_with("    instances: {device: 'cuda:0', gpus: [0]}\n"), "needs device: cuda"},
      {model_with("    instances: {device: cuda, gpus: []}\n"), "gpus"},
      {model_with("    instances: {device: cuda, gpus: [0, 0]}\n"), "appears twice"},
      {model_with("    instances: {device: cuda, gpus: [-1]}\n"), "gpus[0]"},
      {model_with("    instances: {device: 'cuda:-1'}\n"), "device"},
      {model_with("    max_inflight: 0\n"), "max_inflight"},
      {model_with("    colour: blue\n"), "colour"},
      {model_with("    libraries: model.pt\n"), "libraries: expected a list"},
      {model_with("    libraries: [[model.pt]]\n"), "libraries[0]: expected a single value"},
      {model_with("    libraries: ['']\n"), "libraries[0]: expected a file name"},
      {model_with("    libraries: [.]\n"), "libraries[0]"},
      {"models:\n  - name: m\n    path: missing.pt\n    inputs: [{name: x, dtype: FP32, shape: "
       "[1]}]\n"
       "    outputs: [{name: y, dtype: FP32, shape: [1]}]\n",
       "path"},
      {"models:\n  - name: 'bad name'\n    path: model.pt\n    inputs: [{name: x, dtype: FP32, "
       "shape: [1]}]\n"
       "    outputs: [{name: y, dtype: FP32, shape: [1]}]\n",
       "name"},
      {"models:\n  - name: m\n    path: model.pt\n    inputs: [{name: x, dtype: FP33, shape: "
       "[1]}]\n"
       "    outputs: [{name: y, dtype: FP32, shape: [1]}]\n",
       "dtype"},
      {"models:\n  - name: m\n    path: model.pt\n    inputs: [{name: x, dtype: FP32, shape: "
       "[-2]}]\n"
       "    outputs: [{name: y, dtype: FP32, shape: [1]}]\n",
       "shape"},
      {"models:\n  - name: m\n    path: model.pt\n    inputs: [{name: x, dtype: FP32, shape: "
       "[1,1,1,1,1,1,1,1,1]}]\n"
       "    outputs: [{name: y, dtype: FP32, shape: [1]}]\n",
       "shape"},
      {"models:\n  - name: m\n    path: model.pt\n    inputs: []\n    outputs: [{name: y, dtype: "
       "FP32, shape: [1]}]\n",
       "inputs"},
      {"models:\n  - name: m\n    path: model.pt\n    inputs: [{name: x, dtype: FP32, shape: [1]}, "
       "{name: x, dtype: FP32, shape: [1]}]\n"
       "    outputs: [{name: y, dtype: FP32, shape: [1]}]\n",
       "twice"},
      {"models:\n  - name: m\n    path: model.pt\n    outputs: [{name: y, dtype: FP32, shape: "
       "[1]}]\n",
       "inputs"},
      {model_with("") + model_with("").substr(std::string("models:\n").size()), "twice"},
      {"[1, 2, 3]\n", "top level"},
      {"models: {a: [}\n", "YAML"},
  };
  for (const auto& [text, expected] : cases) {
    const auto message = error_of(text);
    EXPECT_NE(message.find(expected), std::string::npos)
        << "config:\n"
        << text << "\nmessage: '" << message << "'";
  }
}

TEST(ConfigValues_test, ByteSizesAndDurations) {
  EXPECT_EQ(parse_byte_size("65536"), 65536u);
  EXPECT_EQ(parse_byte_size("64KiB"), 65536u);
  EXPECT_EQ(parse_byte_size("2MiB"), 2u << 20);
  EXPECT_EQ(parse_byte_size("1GiB"), 1u << 30);
  EXPECT_FALSE(parse_byte_size(""));
  EXPECT_FALSE(parse_byte_size("MiB"));
  EXPECT_FALSE(parse_byte_size("1TiB"));
  EXPECT_FALSE(parse_byte_size("99999999999999999999GiB"));
  EXPECT_FALSE(parse_byte_size("18446744073709551615GiB"));  // overflow
  EXPECT_EQ(parse_duration("30s"), std::chrono::seconds(30));
  EXPECT_EQ(parse_duration("7"), std::chrono::seconds(7));
  EXPECT_EQ(parse_duration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(parse_duration("50us"), std::chrono::microseconds(50));
  EXPECT_EQ(parse_duration("2m"), std::chrono::minutes(2));
  EXPECT_FALSE(parse_duration("1h"));
  EXPECT_FALSE(parse_duration("s"));
  EXPECT_FALSE(parse_duration("-1s"));
}

TEST_F(Config_test, ShmSpaceCheckSaysWhatIsNeededAndWhatIsFree) {
  auto config = parse(model_with("    ring_size: 1GiB\n    instances: {count: 256}\n"));
  try {
    check_shm_space(config);
    FAIL() << "512 GiB of segments fit in /dev/shm?";
  } catch (const InfervisorError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("MiB in /dev/shm"), std::string::npos) << message;
    EXPECT_NE(message.find("free"), std::string::npos) << message;
  }
  config = parse(model_with("    ring_size: 64KiB\n"));
  EXPECT_NO_THROW(check_shm_space(config));
}

}  // namespace
}  // namespace infervisor::supervisor
