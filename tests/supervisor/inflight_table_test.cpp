#include "supervisor/inflight_table.hpp"

#include <gtest/gtest.h>

#include "supervisor/config.hpp"

namespace infervisor::supervisor {
namespace {

using namespace std::chrono_literals;

class InFlightTable_test : public ::testing::Test {
 protected:
  JobPtr job(std::uint64_t id) { return std::make_shared<Job>(id, model_, "", nullptr); }
  ModelConfig model_;
  InFlightTable sut;
};

TEST_F(InFlightTable_test, TakesAnswersByIdOnce) {
  const auto now = InFlightTable::Clock::now();
  sut.add(job(7), now, false);
  sut.add(job(9), now, false);
  EXPECT_EQ(sut.size(), 2u);
  auto entry = sut.take(7);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->id(), 7u);
  EXPECT_FALSE(sut.take(7));
  EXPECT_FALSE(sut.take(8));
  EXPECT_EQ(sut.size(), 1u);
}

TEST_F(InFlightTable_test, TakeAllReturnsEveryJobInArrivalOrder) {
  const auto now = InFlightTable::Clock::now();
  for (std::uint64_t id : {5, 3, 9, 1})
    sut.add(job(id), now, false);
  const auto all = sut.take_all();
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].id(), 1u);
  EXPECT_EQ(all[3].id(), 9u);
  EXPECT_TRUE(sut.empty());
}

TEST_F(InFlightTable_test, ABatchIsOneRecordUnderItsLeadJobsIdAndCountsItsJobs) {
  const auto now = InFlightTable::Clock::now();
  const std::vector<JobPtr> batch{job(4), job(6), job(5)};
  sut.add_batch(batch, now);
  sut.add(job(8), now, false);
  EXPECT_EQ(sut.size(), 2u);
  EXPECT_EQ(sut.jobs(), 4u);
  EXPECT_FALSE(sut.take(6));  // only the lead's id names the record
  auto entry = sut.take(4);
  ASSERT_TRUE(entry);
  ASSERT_EQ(entry->jobs.size(), 3u);
  EXPECT_EQ(entry->jobs[1]->id(), 6u);
  EXPECT_EQ(sut.jobs(), 1u);
  sut.record_answer_time(1us, entry->jobs.size());
  EXPECT_EQ(sut.answered(), 3u);
}

TEST_F(InFlightTable_test, KnowsWhileAnExclusiveJobIsInFlight) {
  const auto now = InFlightTable::Clock::now();
  sut.add(job(1), now, true);
  EXPECT_TRUE(sut.has_exclusive());
  sut.take(1);
  EXPECT_FALSE(sut.has_exclusive());
  sut.add(job(2), now, true);
  sut.take_all();
  EXPECT_FALSE(sut.has_exclusive());
}

TEST_F(InFlightTable_test, TypicalJobTimeFollowsAMovingAverage) {
  EXPECT_EQ(sut.typical_job_time(), 0ns);
  sut.record_answer_time(800ns);
  EXPECT_EQ(sut.typical_job_time(), 800ns);
  sut.record_answer_time(1600ns);
  EXPECT_EQ(sut.typical_job_time(), 900ns);
  EXPECT_EQ(sut.answered(), 2u);
}

}  // namespace
}  // namespace infervisor::supervisor
