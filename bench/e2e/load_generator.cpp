#include "bench/e2e/load_generator.hpp"

#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

namespace infervisor::bench::e2e {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using Protocol = asio::local::stream_protocol;
using Clock = std::chrono::steady_clock;

// A reply larger than this is wrong anyway (the binary one is about 1.2 KB, the JSON one ~5 KB).
constexpr std::uint64_t kMaxReplyBytes = std::uint64_t{64} << 20;  // 16 MiB outputs too
constexpr std::size_t kReadBufferBytes = 64 * 1024;
// After the window closes, in-flight requests get this long to finish before the run fails.
constexpr auto kDrainDeadline = std::chrono::seconds(10);

class LoadRun;

// One keep-alive connection: write the request, read the reply, again, until the run stops.
class Connection {
 public:
  explicit Connection(LoadRun& run);
  void start(const Protocol::endpoint& endpoint);
  void close() noexcept;

 private:
  void send();
  void receive();
  void on_reply(const boost::system::error_code& ec);
  void stop(std::string problem);

  LoadRun& run_;
  Protocol::socket socket_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  Clock::time_point sent_at_;
};

// The run's state; everything happens on the one thread that calls run().
class LoadRun {
 public:
  LoadRun(const InferPayload& payload, const LoadPlan& plan) : payload_(payload), plan_(plan) {
    samples_.reserve(1 << 20);
  }

  LoadResult run(const std::filesystem::path& socket) {
    const Protocol::endpoint endpoint(socket.string());
    for (int i = 0; i < plan_.connections; ++i) {
      connections_.push_back(std::make_unique<Connection>(*this));
    }
    active_ = plan_.connections;
    for (auto& connection : connections_)
      connection->start(endpoint);
    timer_.expires_after(plan_.warm_up);
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) open_window();
    });
    io_.run();
    if (!problem_.empty()) throw std::runtime_error(problem_);
    LoadResult result;
    result.connections = plan_.connections;
    result.completed = completed_;
    result.seconds = std::chrono::duration<double>(window_end_ - window_begin_).count();
    result.requests_per_s = static_cast<double>(completed_) / result.seconds;
    result.latency = summarize(samples_);
    return result;
  }

  asio::io_context& io() noexcept { return io_; }
  const InferPayload& payload() const noexcept { return payload_; }
  bool stopping() const noexcept { return phase_ == Phase::kStopping; }

  void record(Clock::time_point sent, Clock::time_point done) {
    if (phase_ != Phase::kMeasuring) return;
    ++completed_;
    if (sent >= window_begin_) samples_.push_back(done - sent);
  }

  // A connection that stops sending (run over, or failed) reports here; the last one ends run().
  // Only the first problem counts: the others are the aborted reads of the close() it causes.
  void connection_stopped(std::string problem) {
    if (!problem.empty() && problem_.empty()) {
      problem_ = std::move(problem);
      phase_ = Phase::kStopping;
      for (auto& connection : connections_)
        connection->close();
    }
    if (--active_ == 0) timer_.cancel();
  }

 private:
  enum class Phase { kWarmingUp, kMeasuring, kStopping };

  void open_window() {
    if (phase_ != Phase::kWarmingUp) return;
    phase_ = Phase::kMeasuring;
    window_begin_ = Clock::now();
    if (plan_.window_opened) plan_.window_opened();
    timer_.expires_after(plan_.measure);
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) close_window();
    });
  }

  void close_window() {
    window_end_ = Clock::now();
    phase_ = Phase::kStopping;
    if (plan_.window_closed) plan_.window_closed();
    timer_.expires_after(kDrainDeadline);
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      problem_ = fmt::format("{} request(s) still unanswered {} s after the window closed", active_,
                             kDrainDeadline.count());
      for (auto& connection : connections_)
        connection->close();
    });
  }

  // One thread only: no locking anywhere in the generator.
  asio::io_context io_{1};
  asio::steady_timer timer_{io_};
  const InferPayload& payload_;
  const LoadPlan& plan_;
  std::vector<std::unique_ptr<Connection>> connections_;  // after io_: closed before it goes
  int active_ = 0;
  Phase phase_ = Phase::kWarmingUp;
  Clock::time_point window_begin_;
  Clock::time_point window_end_;
  std::uint64_t completed_ = 0;
  std::vector<std::chrono::nanoseconds> samples_;
  std::string problem_;
};

Connection::Connection(LoadRun& run) : run_(run), socket_(run.io()) {
  // Beast reads max(512, free capacity) bytes at a time, and a buffer the parser always drains
  // never grows past 512: the 1.3 KB reply would take three recv calls (and three trips through
  // the reactor). With room reserved, one recv takes the whole reply.
  buffer_.reserve(kReadBufferBytes);
}

void Connection::start(const Protocol::endpoint& endpoint) {
  socket_.async_connect(endpoint, [this](const boost::system::error_code& ec) {
    if (ec) return stop(fmt::format("connect: {}", ec.message()));
    send();
  });
}

void Connection::close() noexcept {
  boost::system::error_code ignored;
  socket_.close(ignored);
}

void Connection::send() {
  if (run_.stopping()) return stop({});
  sent_at_ = Clock::now();
  asio::async_write(socket_, asio::buffer(run_.payload().http_request),
                    [this](const boost::system::error_code& ec, std::size_t) {
                      if (ec) return stop(fmt::format("write: {}", ec.message()));
                      receive();
                    });
}

void Connection::receive() {
  parser_.emplace();
  parser_->body_limit(kMaxReplyBytes);
  http::async_read(socket_, buffer_, *parser_,
                   [this](const boost::system::error_code& ec, std::size_t) { on_reply(ec); });
}

void Connection::on_reply(const boost::system::error_code& ec) {
  const auto done = Clock::now();
  if (ec) return stop(fmt::format("read: {}", ec.message()));
  const auto& reply = parser_->get();
  std::optional<std::string_view> header_length;
  if (const auto it = reply.find("Inference-Header-Content-Length"); it != reply.end()) {
    header_length = std::string_view(it->value().data(), it->value().size());
  }
  std::string problem =
      check_reply(run_.payload(), reply.result_int(), header_length, reply.body().size());
  if (problem.empty() && !reply.keep_alive()) problem = "the daemon did not keep the connection";
  if (!problem.empty()) {
    return stop(
        fmt::format("bad reply: {}; body starts: {}", problem, reply.body().substr(0, 200)));
  }
  run_.record(sent_at_, done);
  send();
}

void Connection::stop(std::string problem) {
  run_.connection_stopped(std::move(problem));
}

}  // namespace

LoadResult run_load(const std::filesystem::path& socket, const InferPayload& payload,
                    const LoadPlan& plan) {
  return LoadRun(payload, plan).run(socket);
}

}  // namespace infervisor::bench::e2e
