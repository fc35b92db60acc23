#include "supervisor/connection_registry.hpp"

#include <gtest/gtest.h>

namespace infervisor::supervisor {
namespace {

using Clock = ConnectionRegistry::Clock;

// A connection as the registry sees it.
class FakeMember final : public ConnectionRegistry::Member {
 public:
  FakeMember(ConnectionRegistry& registry, std::optional<Clock::time_point> idle_since,
             bool refuses_to_close = false)
      : idle_since_(idle_since), refuses_(refuses_to_close) {
    membership_.emplace(registry, this);
  }
  void close_when_idle() override { close(); }
  void close_if_overdue(Clock::time_point) override {}
  std::optional<Clock::time_point> idle_since() const override { return idle_since_; }
  bool close_if_idle() override {
    if (!idle_since_ || refuses_) return false;
    close();
    return true;
  }
  void note_drain() override {
    if (membership_) membership_->set_reading_before_drain(!idle_since_);
  }
  void handed_over() { membership_->set_reading_before_drain(false); }
  bool closed() const { return !membership_; }

 private:
  void close() { membership_.reset(); }
  std::optional<Clock::time_point> idle_since_;
  bool refuses_;
  std::optional<ConnectionRegistry::Membership> membership_;
};

TEST(ConnectionRegistry_test, MakesRoomByClosingTheConnectionIdleLongest) {
  boost::asio::io_context io;
  ConnectionRegistry sut(io);
  const auto now = Clock::now();
  FakeMember busy(sut, std::nullopt);
  FakeMember recent(sut, now);
  FakeMember oldest(sut, now - std::chrono::seconds(30));
  FakeMember older(sut, now - std::chrono::seconds(20));
  EXPECT_EQ(sut.size(), 4u);
  EXPECT_TRUE(sut.close_longest_idle());
  EXPECT_TRUE(oldest.closed());
  EXPECT_FALSE(older.closed());
  EXPECT_EQ(sut.size(), 3u);
  EXPECT_TRUE(sut.close_longest_idle());
  EXPECT_TRUE(older.closed());
  EXPECT_TRUE(sut.close_longest_idle());
  EXPECT_TRUE(recent.closed());
  EXPECT_FALSE(sut.close_longest_idle());  // only the busy one is left
  EXPECT_FALSE(busy.closed());
}

TEST(ConnectionRegistry_test, SkipsAnIdleConnectionWhoseRequestHasBegunToArrive) {
  boost::asio::io_context io;
  ConnectionRegistry sut(io);
  const auto now = Clock::now();
  FakeMember arriving(sut, now - std::chrono::seconds(30), /*refuses_to_close=*/true);
  FakeMember idle(sut, now);
  EXPECT_TRUE(sut.close_longest_idle());
  EXPECT_FALSE(arriving.closed());
  EXPECT_TRUE(idle.closed());
  EXPECT_FALSE(sut.close_longest_idle());
}

TEST(ConnectionRegistry_test, CountsConnectionsReadingARequestThatBeganBeforeTheDrain) {
  boost::asio::io_context io;
  ConnectionRegistry sut(io);
  FakeMember idle(sut, Clock::now());
  auto reading = std::make_unique<FakeMember>(sut, std::nullopt);
  FakeMember reading_too(sut, std::nullopt);
  EXPECT_EQ(sut.reading_before_drain(), 0u);
  sut.begin_drain();
  EXPECT_EQ(sut.reading_before_drain(), 2u);
  reading_too.handed_over();
  EXPECT_EQ(sut.reading_before_drain(), 1u);
  reading.reset();  // a connection that goes away counts no more
  EXPECT_EQ(sut.reading_before_drain(), 0u);
  EXPECT_EQ(sut.size(), 2u);
}

}  // namespace
}  // namespace infervisor::supervisor
