#include "supervisor/restart_policy.hpp"

#include <gtest/gtest.h>

namespace infervisor::supervisor {
namespace {

using namespace std::chrono_literals;
using Clock = RestartPolicy::Clock;

SupervisionPolicy policy() {
  SupervisionPolicy p;
  p.min_uptime = 10s;
  p.restart_backoff_initial = 100ms;
  p.restart_backoff_max = 1s;
  p.max_restarts = 5;
  p.restart_window = 60s;
  return p;
}

TEST(RestartPolicy_test, EarlyDeathsBackOffDoublingUpToTheMaximum) {
  const auto p = policy();
  RestartPolicy sut(p, 1);
  auto now = Clock::now();
  std::vector<long> delays;
  for (int i = 0; i < 5; ++i) {
    const auto decision = sut.on_death(0, std::nullopt, now);
    ASSERT_FALSE(decision.model_failed) << i;
    delays.push_back(static_cast<long>(decision.delay.count()));
    now += 1ms;
  }
  EXPECT_EQ(delays, (std::vector<long>{100, 200, 400, 800, 1000}));
}

TEST(RestartPolicy_test, AWorkerThatServedMinUptimeIsReplacedAtOnceAndResetsTheBackoff) {
  const auto p = policy();
  RestartPolicy sut(p, 1);
  auto now = Clock::now();
  EXPECT_EQ(sut.on_death(0, std::nullopt, now).delay, 100ms);
  EXPECT_EQ(sut.on_death(0, now, now + 5s).delay, 200ms);  // ready, but only for 5 s: early
  now += 20s;
  EXPECT_EQ(sut.on_death(0, now - 11s, now).delay, 0ms);
  EXPECT_EQ(sut.on_death(0, std::nullopt, now + 1ms).delay, 100ms);  // starts over
}

TEST(RestartPolicy_test, MoreThanMaxRestartsWithinTheWindowFailTheModel) {
  const auto p = policy();
  RestartPolicy sut(p, 2);
  const auto start = Clock::now();
  for (int i = 0; i < 5; ++i)
    EXPECT_FALSE(sut.on_death(i % 2, std::nullopt, start + i * 1s).model_failed) << i;
  EXPECT_TRUE(sut.on_death(0, std::nullopt, start + 5s).model_failed);
}

TEST(RestartPolicy_test, DeathsOutsideTheWindowAreForgotten) {
  const auto p = policy();
  RestartPolicy sut(p, 1);
  const auto start = Clock::now();
  for (int i = 0; i < 5; ++i)
    EXPECT_FALSE(sut.on_death(0, std::nullopt, start + i * 1s).model_failed);
  // The first of them is more than 60 s old now: 5 in the window, not 6.
  EXPECT_FALSE(sut.on_death(0, std::nullopt, start + 60500ms).model_failed);
  EXPECT_EQ(sut.recent_deaths(start + 60500ms), 5u);
  sut.reset();
  EXPECT_EQ(sut.recent_deaths(start + 60500ms), 0u);
}

TEST(RestartPolicy_test, InstancesBackOffIndependently) {
  const auto p = policy();
  RestartPolicy sut(p, 2);
  const auto now = Clock::now();
  EXPECT_EQ(sut.on_death(0, std::nullopt, now).delay, 100ms);
  EXPECT_EQ(sut.on_death(0, std::nullopt, now).delay, 200ms);
  EXPECT_EQ(sut.on_death(1, std::nullopt, now).delay, 100ms);
}

}  // namespace
}  // namespace infervisor::supervisor
