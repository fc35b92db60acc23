// One client connection: read a request, hand it to the router, write the reply, repeat while the
// client keeps the connection alive. One request at a time per connection (no pipelining), so a
// reply never overtakes another. Works for Unix-domain and TCP sockets alike.
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <unordered_set>

#include "supervisor/router.hpp"

namespace infervisor::supervisor {

struct HttpLimits {
  std::uint64_t max_body_bytes = 256ull << 20;
  std::chrono::seconds idle_timeout{300};  // between requests on a kept-alive connection
  std::chrono::seconds io_timeout{60};     // reading one request / writing one reply
};

// The connections alive now: shutdown closes them all, and a sweep once a second closes those
// past their deadline. (A coarse sweep instead of a timer per read and write: re-arming a timer
// costs a system call on every request.)
class ConnectionRegistry {
 public:
  class Member {
   public:
    virtual ~Member() = default;
    // Close now if idle, else right after the reply being prepared is written.
    virtual void close_when_idle() = 0;
    // Close if a read or write has outlasted its deadline.
    virtual void close_if_overdue(std::chrono::steady_clock::time_point now) = 0;
  };

  using Members = std::unordered_set<Member*>;

  // A member's place in the registry, for the member's lifetime. It shares the set rather than
  // pointing at the registry: connections may be destroyed by ~io_context after the registry.
  class Membership {
   public:
    Membership(std::shared_ptr<Members> members, Member* member)
        : members_(std::move(members)), member_(member) {
      members_->insert(member_);
    }
    ~Membership() { members_->erase(member_); }
    Membership(const Membership&) = delete;
    Membership& operator=(const Membership&) = delete;

   private:
    std::shared_ptr<Members> members_;
    Member* member_;
  };

  explicit ConnectionRegistry(boost::asio::io_context& io) : sweep_timer_(io) {}

  Membership join(Member* member) { return Membership(members_, member); }
  std::size_t size() const noexcept { return members_->size(); }
  void close_all_when_idle();
  void start_sweeping();
  void stop_sweeping() { sweep_timer_.cancel(); }

 private:
  std::shared_ptr<Members> members_ = std::make_shared<Members>();
  boost::asio::steady_timer sweep_timer_;
};

template <class Protocol>
class HttpConnection final : public std::enable_shared_from_this<HttpConnection<Protocol>>,
                             public ConnectionRegistry::Member {
 public:
  using Socket = typename Protocol::socket;

  HttpConnection(Socket socket, Router& router, ConnectionRegistry& registry,
                 const HttpLimits& limits, const ServiceState& state);

  void start() { read_next(); }
  void close_when_idle() override;
  void close_if_overdue(std::chrono::steady_clock::time_point now) override;

 private:
  void read_next();
  void on_header(const boost::system::error_code& ec);
  void read_body();
  void on_read(const boost::system::error_code& ec);
  void send(HttpReply reply);
  void on_write(const boost::system::error_code& ec, bool keep_alive);
  void close();
  void linger_then_close();
  void discard_rest();

  Socket socket_;
  Router& router_;
  const HttpLimits& limits_;
  const ServiceState& state_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  boost::beast::http::response<boost::beast::http::string_body> response_;
  // When the read or write under way must be done; max(): none (a job is running).
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
  RequestContext context_;  // who is at the other end (set once accepted)
  std::weak_ptr<Job> job_;  // the job of the request being answered, if it queued one
  bool keep_alive_ = false;
  bool busy_ = false;  // between a request's arrival and the end of its reply's write
  bool close_requested_ = false;
  bool unread_request_ = false;  // refused before its body was read (413, malformed)
  std::array<char, 64 * 1024> discard_{};
  ConnectionRegistry::Membership membership_;
};

extern template class HttpConnection<boost::asio::local::stream_protocol>;
extern template class HttpConnection<boost::asio::ip::tcp>;

}  // namespace infervisor::supervisor
