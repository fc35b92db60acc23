#include "supervisor/pick_worker.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace infervisor::supervisor {
namespace {

TEST(PickWorker_test, PicksTheWorkerWithFewestOutstandingJobs) {
  const std::vector<WorkerLoad> loads{{true, 3, 4}, {true, 1, 4}, {true, 2, 4}};
  EXPECT_EQ(pick_worker(loads), 1u);
}

TEST(PickWorker_test, TiesGoToTheLowestIndex) {
  const std::vector<WorkerLoad> loads{{true, 0, 4}, {true, 0, 4}};
  EXPECT_EQ(pick_worker(loads), 0u);
}

TEST(PickWorker_test, SkipsWorkersThatAreNotAcceptingOrAtTheirLimit) {
  const std::vector<WorkerLoad> loads{{false, 0, 4}, {true, 4, 4}, {true, 3, 4}};
  EXPECT_EQ(pick_worker(loads), 2u);
}

TEST(PickWorker_test, NobodyWhenEveryWorkerIsBusyOrGone) {
  EXPECT_FALSE(pick_worker({}));
  const std::vector<WorkerLoad> loads{{false, 0, 4}, {true, 4, 4}};
  EXPECT_FALSE(pick_worker(loads));
}

}  // namespace
}  // namespace infervisor::supervisor
