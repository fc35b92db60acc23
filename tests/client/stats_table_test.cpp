#include "client/stats_table.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace infervisor::client {
namespace {

using namespace std::chrono_literals;

// A model that has answered `ok` + `failed` requests as `inferences` inferences in
// `executions` executions, each request having waited `queue_ns` and computed 10 µs input,
// 1 ms infer and 5 µs output.
ModelStatistics sample(std::uint64_t ok, std::uint64_t failed, std::uint64_t inferences,
                       std::uint64_t executions, std::uint64_t queue_ns = 250'000) {
  ModelStatistics model;
  // Moved in: assigning the literal trips GCC 12's false -Wrestrict warning here.
  model.name = std::string("mlp");
  model.version = std::string("1");
  model.inference_count = inferences;
  model.execution_count = executions;
  auto& stats = model.inference_stats;
  stats.success = {ok, ok * 800'000};
  stats.fail = {failed, failed * 50'000};
  stats.queue = {inferences, inferences * queue_ns};
  stats.compute_input = {inferences, inferences * 10'000};
  stats.compute_infer = {inferences, inferences * 1'000'000};
  stats.compute_output = {inferences, inferences * 5'000};
  return model;
}

InfervisorStats extras() {
  InfervisorStats extras;
  extras.failures = {{"bad_request", 1}, {"model_error", 1}, {"timeout", 0}};
  extras.pending = 3;
  extras.p50_us = 812.5;
  extras.p99_us = 2011.0;
  extras.workers = {{0, "READY", 0, 1234}, {1, "RESTARTING", 2, std::nullopt}};
  return extras;
}

TEST(client_stats_table_test, ActivityIsTheDeltaOverTheInterval) {
  const auto before = sample(10, 2, 12, 6);
  const auto after = sample(30, 4, 36, 12);
  const auto sut = model_activity(&before, after, 2s);
  EXPECT_DOUBLE_EQ(sut.requests_per_s, 11);  // 22 answered in 2 s
  EXPECT_DOUBLE_EQ(sut.failures_per_s, 1);
  EXPECT_DOUBLE_EQ(sut.inferences_per_s, 12);
  EXPECT_DOUBLE_EQ(sut.average_batch.value(), 4);  // 24 inferences in 6 executions
  EXPECT_DOUBLE_EQ(sut.queue_us.value(), 250);
  EXPECT_DOUBLE_EQ(sut.compute_us.value(), 1015);
  EXPECT_FALSE(sut.counters_reset);
}

TEST(client_stats_table_test, OnlyTheIntervalCounts) {
  // 1 ms queueing before, 100 µs during the interval: the interval's average is 100 µs.
  const auto before = sample(10, 0, 10, 10, 1'000'000);
  auto after = before;
  after.inference_count += 10;
  after.execution_count += 10;
  after.inference_stats.success.count += 10;
  after.inference_stats.queue = {20, 10 * 1'000'000 + 10 * 100'000};
  const auto sut = model_activity(&before, after, 500ms);
  EXPECT_DOUBLE_EQ(sut.requests_per_s, 20);
  EXPECT_DOUBLE_EQ(sut.queue_us.value(), 100);
  EXPECT_FALSE(sut.compute_us.has_value());  // no compute counted in the interval
}

TEST(client_stats_table_test, AnIdleModelHasNoAverages) {
  const auto model = sample(10, 0, 10, 10);
  const auto sut = model_activity(&model, model, 1s);
  EXPECT_EQ(sut.requests_per_s, 0);
  EXPECT_EQ(sut.inferences_per_s, 0);
  EXPECT_FALSE(sut.average_batch.has_value());
  EXPECT_FALSE(sut.queue_us.has_value());
  EXPECT_FALSE(sut.compute_us.has_value());
}

TEST(client_stats_table_test, ANewOrResetModelCountsFromZero) {
  const auto after = sample(4, 0, 4, 2);
  const auto fresh = model_activity(nullptr, after, 2s);
  EXPECT_DOUBLE_EQ(fresh.requests_per_s, 2);
  EXPECT_DOUBLE_EQ(fresh.average_batch.value(), 2);
  EXPECT_FALSE(fresh.counters_reset);

  const auto before = sample(100, 0, 100, 100);  // reloaded since: the counters went down
  const auto reset = model_activity(&before, after, 2s);
  EXPECT_TRUE(reset.counters_reset);
  EXPECT_DOUBLE_EQ(reset.requests_per_s, 2);
  EXPECT_DOUBLE_EQ(reset.inferences_per_s, 2);
  EXPECT_DOUBLE_EQ(reset.queue_us.value(), 250);
}

TEST(client_stats_table_test, NoIntervalNoRates) {
  const auto sut = model_activity(nullptr, sample(4, 0, 4, 2), 0s);
  EXPECT_EQ(sut.requests_per_s, 0);
  EXPECT_DOUBLE_EQ(sut.average_batch.value(), 2);
}

TEST(client_stats_table_test, StatisticsOfATritonModel) {
  auto model = sample(10, 2, 12, 6);
  model.last_inference_ms = 1764640000123;
  model.batch_stats = {{2, {6, 1}, {6, 1}, {6, 1}}};
  const std::vector<ModelStatistics> models{model};
  EXPECT_EQ(format_statistics(models),
            "mlp (version 1)\n"
            "  requests:        10 ok, 2 failed\n"
            "  inferences:      12\n"
            "  executions:      6, average batch 2.00\n"
            "  batch sizes:     2: 6\n"
            "  average µs:      queue 250.0, compute input 10.0, infer 1000.0, output 5.0\n"
            "  last inference:  2025-12-02 01:46:40.123 UTC\n");
}

TEST(client_stats_table_test, StatisticsWithInfervisorExtras) {
  auto model = sample(0, 2, 0, 0);
  model.version = "";
  model.infervisor = extras();
  const std::vector<ModelStatistics> models{model, model};
  const std::string block =
      "mlp\n"
      "  requests:        0 ok, 2 failed (bad_request 1, model_error 1)\n"
      "  inferences:      0\n"
      "  executions:      0\n"
      "  batch sizes:     -\n"
      "  average µs:      queue -, compute input -, infer -, output -\n"
      "  latency µs:      p50 812.5, p99 2011.0\n"
      "  pending:         3\n"
      "  last inference:  never\n"
      "  workers:\n"
      "    INSTANCE  STATE       RESTARTS   PID\n"
      "           0  READY              0  1234\n"
      "           1  RESTARTING         2     -\n";
  EXPECT_EQ(format_statistics(models), block + "\n" + block);
  EXPECT_EQ(format_statistics({}), "no models\n");
}

TEST(client_stats_table_test, TopRowsPerModel) {
  auto before = sample(10, 2, 12, 6);
  auto after = sample(30, 4, 36, 12);
  after.infervisor = extras();
  auto triton = sample(0, 0, 0, 0);
  triton.name = "resnet-50";
  triton.version = "";
  const std::vector<ModelStatistics> first{before};
  const std::vector<ModelStatistics> second{after, triton};
  EXPECT_EQ(format_top(first, second, 2s),
            "2 model(s), over the last 2.00 s\n"
            "MODEL      VERSION  REQ/S  FAIL/S  INFER/S  BATCH  QUEUE µs  COMPUTE µs  P50 µs  "
            "P99 µs  PENDING  WORKERS  RESTARTS\n"
            "mlp        1         11.0     1.0     12.0   4.00     250.0      1015.0   812.5  "
            "2011.0        3      1/2         2\n"
            "resnet-50  -          0.0     0.0      0.0      -         -           -       -  "
            "     -        -        -         -\n");
}

TEST(client_stats_table_test, TopMarksAReset) {
  const std::vector<ModelStatistics> before{sample(100, 0, 100, 100)};
  const std::vector<ModelStatistics> after{sample(4, 0, 4, 2)};
  const auto sut = format_top(before, after, 2s);
  EXPECT_NE(sut.find("\nmlp *  1"), std::string::npos) << sut;
  EXPECT_NE(sut.find("* counters restarted"), std::string::npos) << sut;
}

}  // namespace
}  // namespace infervisor::client
