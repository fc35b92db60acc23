// The client connections open now, Unix and TCP together. The daemon closes them all at the end of
// a shutdown; a sweep once a second closes those past their deadline; a connection accepted beyond
// max_connections makes room by closing the one idle longest; and during the drain (SIGTERM) the
// registry knows how many connections are still reading a request that began before it.
//
// (A coarse sweep instead of a timer per read and write: re-arming a timer costs a system call on
// every request.)
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <unordered_set>

namespace infervisor::supervisor {

class ConnectionRegistry {
 public:
  using Clock = std::chrono::steady_clock;

  class Member {
   public:
    virtual ~Member() = default;
    // Close now if idle, else right after the reply being prepared is written.
    virtual void close_when_idle() = 0;
    // Close if a read or write has outlasted its deadline.
    virtual void close_if_overdue(Clock::time_point now) = 0;
    // Since when it has been waiting for a request with nothing buffered; nullopt if it is not.
    virtual std::optional<Clock::time_point> idle_since() const = 0;
    // Close if still idle, with no byte of a request arrived meanwhile; whether it closed.
    virtual bool close_if_idle() = 0;
    // The drain begins: the member notes whether the request it is reading, or whose bytes have
    // arrived, began before it (and reports that through its Membership).
    virtual void note_drain() = 0;
  };

 private:
  struct Shared {
    std::unordered_set<Member*> members;
    std::size_t reading_before_drain = 0;
  };

 public:
  // A member's place in the registry, while its connection is open. It shares the registry's
  // state rather than pointing at the registry: connections may be destroyed by ~io_context after
  // the registry.
  class Membership {
   public:
    Membership(ConnectionRegistry& registry, Member* member)
        : shared_(registry.shared_), member_(member) {
      shared_->members.insert(member_);
    }
    ~Membership() {
      set_reading_before_drain(false);
      shared_->members.erase(member_);
    }
    Membership(const Membership&) = delete;
    Membership& operator=(const Membership&) = delete;

    // Whether the member is reading (or has bytes of) a request that began before the drain and
    // has not handed it over yet.
    void set_reading_before_drain(bool reading) noexcept {
      if (reading == reading_before_drain_) return;
      reading_before_drain_ = reading;
      if (reading)
        ++shared_->reading_before_drain;
      else
        --shared_->reading_before_drain;
    }

   private:
    std::shared_ptr<Shared> shared_;
    Member* member_;
    bool reading_before_drain_ = false;
  };

  explicit ConnectionRegistry(boost::asio::io_context& io) : sweep_timer_(io) {}

  std::size_t size() const noexcept { return shared_->members.size(); }
  void close_all_when_idle();
  // Closes the connection idle longest to make room for a new one; false if none is idle.
  bool close_longest_idle();
  // Asks every connection whether a request of its began before the drain (call once, when the
  // drain begins and the listen backlogs have been accepted).
  void begin_drain();
  // Connections still reading a request that began before the drain: the drain waits for them
  // to hand their requests over before it stops the workers.
  std::size_t reading_before_drain() const noexcept { return shared_->reading_before_drain; }
  void start_sweeping();
  void stop_sweeping() { sweep_timer_.cancel(); }

 private:
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  boost::asio::steady_timer sweep_timer_;
};

}  // namespace infervisor::supervisor
