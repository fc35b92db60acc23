// A model's statistics alone: outcomes by answer status, Triton's counters and the latency
// histogram's percentiles.
#include "supervisor/model_statistics.hpp"

#include <gtest/gtest.h>

#include "supervisor/config.hpp"
#include "supervisor/job.hpp"

namespace infervisor::supervisor {
namespace {

using namespace std::chrono_literals;

TEST(ModelStatistics_test, OutcomesByStatus) {
  EXPECT_EQ(classify(200, false), Outcome::kSuccess);
  EXPECT_EQ(classify(400, false), Outcome::kBadRequest);
  EXPECT_EQ(classify(413, false), Outcome::kBadRequest);
  EXPECT_EQ(classify(499, false), Outcome::kClientGone);
  EXPECT_EQ(classify(503, false), Outcome::kRejected);
  EXPECT_EQ(classify(504, true), Outcome::kTimeout);
  EXPECT_EQ(classify(500, false), Outcome::kModelError);
  EXPECT_EQ(classify(500, true), Outcome::kWorkerDeath);
  EXPECT_STREQ(outcome_name(Outcome::kWorkerDeath), "worker_death");
}

TEST(ModelStatistics_test, CountsSuccessesAndTheirStagesAndFailuresApart) {
  ModelConfig model;
  model.name = "m";
  ModelStatistics stats;
  for (int i = 0; i < 3; ++i) {
    Job job(static_cast<std::uint64_t>(i), model, "", [](HttpReply) {});
    job.set_times({10us, 20us, 1us, 100us, 2us});
    stats.record(job, 200);
  }
  // The three ran as one batch of 3 rows, and one job ran alone.
  stats.record_execution(3, {1000, 100'000, 2000});
  stats.record_execution(1, {1000, 50'000, 2000});
  Job refused(9, model, "", [](HttpReply) {});
  stats.record(refused, 503);
  Job died(10, model, "", [](HttpReply) {});
  died.record_death("killed by signal 9");
  stats.record(died, 500);
  EXPECT_EQ(stats.inference_count(), 3u);
  EXPECT_EQ(stats.execution_count(), 2u);
  EXPECT_EQ(stats.success().count, 3u);
  EXPECT_EQ(stats.fail().count, 2u);
  EXPECT_EQ(stats.queue().ns, 30'000u);
  EXPECT_EQ(stats.compute_input().ns, 3'000u);
  EXPECT_EQ(stats.compute_infer().ns, 300'000u);
  EXPECT_EQ(stats.compute_output().ns, 6'000u);
  EXPECT_EQ(stats.outcomes(Outcome::kRejected), 1u);
  EXPECT_EQ(stats.outcomes(Outcome::kWorkerDeath), 1u);
  const auto json = stats.triton_json();
  EXPECT_EQ(json.at("batch_stats").at(0).at("batch_size"), 1);
  EXPECT_EQ(json.at("batch_stats").at(1).at("batch_size"), 3);
  EXPECT_EQ(json.at("batch_stats").at(1).at("compute_infer").at("count"), 1);
  EXPECT_EQ(json.at("batch_stats").at(1).at("compute_infer").at("ns"), 100'000);
  EXPECT_EQ(json.at("inference_stats").at("compute_infer").at("count"), 3);
}

TEST(ModelStatistics_test, PercentilesComeFromBucketsAtMostNinePercentWide) {
  LatencyHistogram histogram;
  EXPECT_EQ(histogram.quantile_us(0.5), 0);
  for (int i = 1; i <= 100; ++i)
    histogram.add(std::chrono::microseconds(i * 10));
  const double p50 = histogram.quantile_us(0.5);
  const double p99 = histogram.quantile_us(0.99);
  EXPECT_GE(p50, 500);
  EXPECT_LE(p50, 500 * 1.091);
  EXPECT_GE(p99, 990);
  EXPECT_LE(p99, 990 * 1.091);
  histogram.add(std::chrono::hours(1000));  // past the last bucket: counted in it
  EXPECT_EQ(histogram.count(), 101u);
}

}  // namespace
}  // namespace infervisor::supervisor
