// wait_until and Doorbell: a waiter that finds its condition never parks, one that does not find it
// gives up at its deadline, a notifier makes a system call only for a parked peer, and a parked
// peer is never left asleep.
#include "shm/wait.hpp"

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "common/unique_fd.hpp"

namespace infervisor::shm {
namespace {

constexpr SpinPolicy kParkAtOnce{std::chrono::nanoseconds::zero(), std::chrono::hours(1)};

std::uint32_t parked(WaitSlot& slot) {
  return shared(slot.parked).load();
}
std::uint32_t sequence(WaitSlot& slot) {
  return shared(slot.sequence).load();
}

class Wait_test : public ::testing::Test {
 protected:
  WaitSlot slot_{};
};

TEST_F(Wait_test, ReadyConditionReturnsWithoutParking) {
  for (const auto& policy : {SpinPolicy{}, kParkAtOnce}) {
    // Even with the deadline already past: a ready condition is not a timeout.
    const auto sut = wait_until(
        slot_, [] { return true; }, policy, Clock::now());
    EXPECT_EQ(sut, WaitOutcome::kReady);
    EXPECT_EQ(parked(slot_), 0u);
    EXPECT_EQ(sequence(slot_), 0u);
  }
}

TEST_F(Wait_test, UnreadyConditionTimesOutAtTheDeadline) {
  for (const auto& policy :
       {SpinPolicy{}, kParkAtOnce, SpinPolicy{std::chrono::hours(1), std::chrono::hours(1)}}) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(10);
    const auto sut = wait_until(
        slot_, [] { return false; }, policy, deadline);
    EXPECT_EQ(sut, WaitOutcome::kTimedOut);
    EXPECT_GE(Clock::now(), deadline) << "gave up early";
    EXPECT_EQ(parked(slot_), 0u) << "left the slot marked parked";
  }
}

TEST_F(Wait_test, ConditionBecomingTrueLaterEndsTheWait) {
  int calls = 0;
  const auto sut = wait_until(
      slot_, [&] { return ++calls > 1000; }, SpinPolicy{}, Clock::now() + std::chrono::seconds(60));
  EXPECT_EQ(sut, WaitOutcome::kReady);
  EXPECT_EQ(calls, 1001);
}

TEST_F(Wait_test, DoorbellForAnUnparkedPeerMakesNoSystemCall) {
  Doorbell sut(&slot_, -1);
  for (int i = 0; i < 10; ++i)
    sut.ring();
  EXPECT_EQ(sut.wakeups(), 0u);
  EXPECT_EQ(sequence(slot_), 0u);
  Doorbell unattached;
  unattached.ring();
  EXPECT_EQ(unattached.wakeups(), 0u);
}

TEST_F(Wait_test, DoorbellForAParkedPeerBumpsTheSequenceAndWakes) {
  Doorbell sut(&slot_, -1);
  shared(slot_.parked).store(1);
  sut.ring();
  sut.ring();
  EXPECT_EQ(sut.wakeups(), 2u);
  EXPECT_EQ(sequence(slot_), 2u);
}

TEST_F(Wait_test, EventfdDoorbellWritesTheEventfdOnlyForAParkedPeer) {
  UniqueFd event(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  ASSERT_TRUE(event);
  Doorbell sut(&slot_, event.get());
  std::uint64_t count = 0;

  sut.ring();
  EXPECT_LT(::read(event.get(), &count, sizeof(count)), 0) << "written with nobody parked";

  ASSERT_TRUE(arm_parking(slot_, [] { return false; }));
  sut.ring();
  sut.ring();
  ASSERT_EQ(::read(event.get(), &count, sizeof(count)), static_cast<ssize_t>(sizeof(count)));
  EXPECT_EQ(count, 2u);
  EXPECT_EQ(sut.wakeups(), 2u);
  disarm_parking(slot_);
  EXPECT_EQ(parked(slot_), 0u);
}

TEST_F(Wait_test, ArmParkingRefusesWhenAlreadyReady) {
  EXPECT_FALSE(arm_parking(slot_, [] { return true; }));
  EXPECT_EQ(parked(slot_), 0u);
  EXPECT_TRUE(arm_parking(slot_, [] { return false; }));
  EXPECT_EQ(parked(slot_), 1u);
  disarm_parking(slot_);
  EXPECT_EQ(parked(slot_), 0u);
}

TEST_F(Wait_test, ParkedWaiterIsWokenByTheDoorbell) {
  std::uint32_t flag = 0;
  WaitOutcome outcome = WaitOutcome::kTimedOut;
  std::jthread waiter([&] {
    outcome = wait_until(
        slot_, [&] { return shared(flag).load(std::memory_order_seq_cst) != 0; }, kParkAtOnce,
        Clock::now() + std::chrono::seconds(60));
  });
  while (parked(slot_) == 0)
    std::this_thread::yield();
  Doorbell sut(&slot_, -1);
  shared(flag).store(1, std::memory_order_seq_cst);
  sut.ring();
  waiter.join();
  EXPECT_EQ(outcome, WaitOutcome::kReady);
  EXPECT_EQ(sut.wakeups(), 1u);
}

// Two threads hand a token back and forth, each parking at once when it is not its turn. A single
// park outlasts the deadline, so one lost wake-up shows as kTimedOut.
TEST_F(Wait_test, PingPongNeverLosesAWakeUp) {
  struct alignas(kCacheLine) Turn {
    std::uint32_t value;
  };
  Turn ping{}, pong{};
  WaitSlot ping_slot{}, pong_slot{};
  constexpr std::uint32_t kRounds = 20000;
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  const auto reached = [](Turn& turn, std::uint32_t value) {
    return [&turn, value] { return shared(turn.value).load(std::memory_order_seq_cst) >= value; };
  };
  std::atomic<bool> answerer_ok{true};
  std::jthread answerer([&] {
    Doorbell wake_pinger(&pong_slot, -1);
    for (std::uint32_t round = 1; round <= kRounds; ++round) {
      if (wait_until(ping_slot, reached(ping, round), kParkAtOnce, deadline) !=
          WaitOutcome::kReady) {
        answerer_ok = false;
        return;
      }
      shared(pong.value).store(round, std::memory_order_seq_cst);
      wake_pinger.ring();
    }
  });
  Doorbell wake_answerer(&ping_slot, -1);
  for (std::uint32_t round = 1; round <= kRounds; ++round) {
    shared(ping.value).store(round, std::memory_order_seq_cst);
    wake_answerer.ring();
    ASSERT_EQ(wait_until(pong_slot, reached(pong, round), kParkAtOnce, deadline),
              WaitOutcome::kReady)
        << "round " << round;
  }
  answerer.join();
  EXPECT_TRUE(answerer_ok);
}

}  // namespace
}  // namespace infervisor::shm
