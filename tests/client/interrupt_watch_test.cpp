#include "client/interrupt_watch.hpp"

#include <gtest/gtest.h>
#include <pthread.h>

#include <csignal>

namespace infervisor::client {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

TEST(client_interrupt_watch_test, SleepsTheWholeTimeWithoutSigint) {
  InterruptWatch sut;
  const auto start = clock_type::now();
  EXPECT_TRUE(sut.sleep_for(20ms));
  EXPECT_GE(clock_type::now() - start, 20ms);
  EXPECT_FALSE(sut.interrupted());
  EXPECT_TRUE(sut.sleep_for(-5ms));
}

TEST(client_interrupt_watch_test, ASigintBeforeTheSleepEndsItAtOnce) {
  InterruptWatch sut;
  ASSERT_EQ(std::raise(SIGINT), 0);  // caught: the test goes on
  EXPECT_TRUE(sut.interrupted());
  const auto start = clock_type::now();
  EXPECT_FALSE(sut.sleep_for(60s));
  EXPECT_LT(clock_type::now() - start, 30s);
}

TEST(client_interrupt_watch_test, ASigintPendingAtTheCheckWakesTheSleep) {
  InterruptWatch sut;
  // Blocked, the signal waits as it would if it came between checking the flag and sleeping:
  // it must be taken inside the sleep and end it, not be lost until the next one.
  sigset_t sigint, previous;
  sigemptyset(&sigint);
  sigaddset(&sigint, SIGINT);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &sigint, &previous), 0);
  ASSERT_EQ(::pthread_kill(::pthread_self(), SIGINT), 0);
  EXPECT_FALSE(sut.interrupted());
  const auto start = clock_type::now();
  EXPECT_FALSE(sut.sleep_for(60s));
  EXPECT_LT(clock_type::now() - start, 30s);
  EXPECT_TRUE(sut.interrupted());
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

TEST(client_interrupt_watch_test, RestoresThePreviousDisposition) {
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction previous {};
  ASSERT_EQ(::sigaction(SIGINT, &ignore, &previous), 0);
  { InterruptWatch sut; }
  struct sigaction now {};
  ASSERT_EQ(::sigaction(SIGINT, &previous, &now), 0);
  EXPECT_EQ(now.sa_handler, SIG_IGN);
}

}  // namespace
}  // namespace infervisor::client
