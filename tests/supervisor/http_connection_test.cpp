// HttpConnection over a socketpair, with the router answering at once (no model, no worker): the
// event loop runs on its own thread, the test is the client and speaks raw bytes.
#include "supervisor/http_connection.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <future>
#include <map>
#include <thread>

#include "common/unique_fd.hpp"

namespace infervisor::supervisor {
namespace {

using Local = boost::asio::local::stream_protocol;
using namespace std::chrono_literals;

struct Response {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

class HttpConnection_test : public ::testing::Test, public ServiceState {
 protected:
  HttpConnection_test() : work_(io_.get_executor()), registry_(io_), router_(*this) {
    limits_.max_json_body_bytes = 4096;
    limits_.max_body_bytes = 1 << 20;
    io_thread_ = std::thread([this] { io_.run(); });
  }
  // Before the destructor: the loop's thread calls this ServiceState, whose destruction begins
  // by rewriting its vtable pointer.
  void TearDown() override {
    work_.reset();
    io_.stop();
    io_thread_.join();
  }

  // ServiceState: no models, so the router answers everything at once.
  bool draining() const override { return draining_; }
  bool all_models_ready() const override { return true; }
  ModelPool* find_pool(std::string_view) override { return nullptr; }
  std::vector<ModelState> model_states() const override { return {}; }
  std::uint64_t next_job_id() override { return 1; }

  // Runs `f` on the event loop's thread and returns what it returns.
  // (The promise is the handler's own: it outlives set_value() even once the test moved on.)
  template <class F>
  auto on_io(F f) {
    auto promise = std::make_shared<std::promise<decltype(f())>>();
    auto result = promise->get_future();
    boost::asio::post(io_, [promise, f = std::move(f)]() mutable { promise->set_value(f()); });
    return result.get();
  }

  // A new connection served by a fresh HttpConnection; the test holds the client's end.
  std::shared_ptr<HttpConnection<Local>> open(std::optional<std::string> refusal = std::nullopt) {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    client_.reset(fds[1]);
    pending_.clear();
    eof_ = false;
    return on_io([&] {
      auto connection =
          std::make_shared<HttpConnection<Local>>(Local::socket(io_, Local(), fds[0]), router_,
                                                  registry_, limits_, *this, RequestContext{});
      connection->start(refusal);
      return connection;
    });
  }

  void send(const std::string& bytes) {
    ASSERT_EQ(::send(client_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }

  // Reads more into pending_; false on end of stream or after `timeout` without a byte.
  bool read_more(std::chrono::milliseconds timeout = 5000ms) {
    pollfd entry{client_.get(), POLLIN, 0};
    if (::poll(&entry, 1, static_cast<int>(timeout.count())) != 1) return false;
    char chunk[65536];
    const auto n = ::recv(client_.get(), chunk, sizeof(chunk), 0);
    eof_ = n == 0;
    if (n <= 0) return false;
    pending_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  // The next response; for a HEAD request without a body, whatever Content-Length says.
  std::optional<Response> next_response(bool head = false) {
    std::size_t end = 0;
    while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!read_more()) return std::nullopt;
    }
    Response response;
    const std::string head_text = pending_.substr(0, end);
    response.status = static_cast<unsigned>(std::stoul(head_text.substr(9, 3)));
    std::size_t line = head_text.find("\r\n");
    while (line != std::string::npos) {
      const auto next = head_text.find("\r\n", line + 2);
      const auto field = head_text.substr(
          line + 2, next == std::string::npos ? std::string::npos : next - line - 2);
      const auto colon = field.find(':');
      if (colon != std::string::npos) {
        response.headers[lower(field.substr(0, colon))] =
            field.substr(field.find_first_not_of(' ', colon + 1));
      }
      line = next;
    }
    const std::size_t length = head ? 0 : std::stoul(response.header("content-length"));
    while (pending_.size() < end + 4 + length) {
      if (!read_more()) return std::nullopt;
    }
    response.body = pending_.substr(end + 4, length);
    pending_.erase(0, end + 4 + length);
    return response;
  }

  // Whether the daemon's side closes with nothing more sent.
  bool closed_with_nothing_more() {
    while (read_more()) {
    }
    return pending_.empty() && eof_;
  }

  // Waits (bounded) until `condition`, evaluated on the event loop, holds.
  template <class F>
  bool eventually(F condition) {
    for (int i = 0; i < 5000; ++i) {
      if (on_io(condition)) return true;
      std::this_thread::sleep_for(1ms);
    }
    return false;
  }

  static std::string error_of(const Response& response) {
    return std::string(boost::json::parse(response.body).at("error").as_string());
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  HttpLimits limits_;
  ConnectionRegistry registry_;
  Router router_;
  std::atomic<bool> draining_{false};
  UniqueFd client_;
  std::string pending_;
  bool eof_ = false;
  std::thread io_thread_;
};

const std::string kLive = "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n";

// 13,577 idle keep-alive connections used to hold 1 GB: a 64 KiB read buffer reserved for each,
// and a 64 KiB discard array inside the object.
TEST_F(HttpConnection_test, AnIdleKeepAliveConnectionHoldsNoReadBuffer) {
  EXPECT_LE(sizeof(HttpConnection<Local>), 2048u);
  auto sut = open();
  EXPECT_EQ(on_io([&] { return sut->buffer_capacity(); }), 0u);  // nothing before the first byte
  for (int round = 0; round < 3; ++round) {
    send(kLive);
    const auto response = next_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200u);
    EXPECT_EQ(response->header("connection"), "");  // kept alive
    ASSERT_TRUE(eventually([&] { return sut->idle_since().has_value(); }));
    EXPECT_EQ(on_io([&] { return sut->buffer_capacity(); }), 0u);
  }
}

TEST_F(HttpConnection_test, PipelinedRequestsAreAllAnswered) {
  open();
  send(kLive + kLive + "GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n");
  for (int i = 0; i < 3; ++i) {
    const auto response = next_response();
    ASSERT_TRUE(response) << i;
    EXPECT_EQ(response->status, 200u);
  }
}

// A reply to HEAD has no body (RFC 9110 9.3.2); a body there would be read as the next reply.
TEST_F(HttpConnection_test, HeadIsAnsweredAsGetWithoutTheBody) {
  open();
  send("HEAD /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n" + kLive);
  const auto head = next_response(/*head=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200u);
  EXPECT_EQ(head->header("content-length"), "13");  // what GET sends: {"live":true}
  const auto get = next_response();
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200u);
  EXPECT_EQ(get->body, R"({"live":true})");
}

// Request smuggling: with a last coding other than chunked, Beast reads the request as having no
// body, and the body (here a whole second request) would be served as the next request.
TEST_F(HttpConnection_test, TransferEncodingNotEndingInChunkedIs400AndCloses) {
  for (const std::string coding : {"gzip", "identity", "chunked, chunked", ""}) {
    SCOPED_TRACE("Transfer-Encoding: " + coding);
    open();
    send("POST /v2/repository/index HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + coding +
         "\r\n\r\n" + kLive);
    const auto response = next_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 400u);
    EXPECT_EQ(response->header("connection"), "close");
    EXPECT_TRUE(closed_with_nothing_more());
  }
}

TEST_F(HttpConnection_test, ContentLengthWithTransferEncodingIs400AndCloses) {
  for (const std::string fields : {"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                                   "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"}) {
    open();
    send("POST /v2/repository/index HTTP/1.1\r\nHost: x\r\n" + fields + "\r\n0\r\n\r\n" + kLive);
    const auto response = next_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 400u);
    EXPECT_TRUE(closed_with_nothing_more());
  }
}

TEST_F(HttpConnection_test, Http11WithoutOrWithTwoHostsIs400) {
  for (const std::string hosts : {"", "Host: a\r\nHost: b\r\n"}) {
    open();
    send("GET /v2/health/live HTTP/1.1\r\n" + hosts + "\r\n");
    const auto response = next_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 400u);
    EXPECT_NE(error_of(*response).find("Host"), std::string::npos) << error_of(*response);
    EXPECT_TRUE(closed_with_nothing_more());
  }
}

TEST_F(HttpConnection_test, HeadersTooLargeOrTooManyAre431AndClose) {
  open();
  send("GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(70000, 'b') + "\r\n\r\n");
  auto response = next_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 431u);
  EXPECT_EQ(response->header("connection"), "close");
  EXPECT_TRUE(closed_with_nothing_more());

  open();
  std::string many = "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 150; ++i)
    many += fmt::format("X-F{}: v\r\n", i);
  send(many + "\r\n");
  response = next_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 431u);
  EXPECT_TRUE(closed_with_nothing_more());
}

// Refused from its Content-Length alone: the test never sends the body.
TEST_F(HttpConnection_test, AJsonBodyAboveMaxJsonRequestSizeIs413BeforeItIsRead) {
  open();
  send("POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
  auto response = next_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 413u);
  EXPECT_NE(error_of(*response).find("max_json_request_size (4096 bytes)"), std::string::npos)
      << error_of(*response);

  // Chunked: refused once its chunks add up to more.
  open();
  const std::string chunk = fmt::format("{:x}\r\n{}\r\n", 3000, std::string(3000, ' '));
  send("POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk +
       chunk);
  response = next_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 413u);
  EXPECT_NE(error_of(*response).find("max_json_request_size"), std::string::npos)
      << error_of(*response);

  // Binary tensor data keeps max_request_size: this one is read, and reaches the router.
  open();
  send(
      fmt::format("POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
                  "Inference-Header-Content-Length: 2\r\n\r\n{{}}{}",
                  std::string(4998, '\0')));
  response = next_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 404u);  // no model 'm' here
}

TEST_F(HttpConnection_test, AHalfClosedClientStillGetsItsAnswer) {
  open();
  send(kLive);
  ASSERT_EQ(::shutdown(client_.get(), SHUT_WR), 0);
  const auto response = next_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200u);
  EXPECT_TRUE(closed_with_nothing_more());
}

TEST_F(HttpConnection_test, ErrorRepliesAreValidUtf8Json) {
  open();
  send("GET /v2/models/m\xfflp HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto response = next_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 404u);
  EXPECT_EQ(error_of(*response), "no model named 'm\xEF\xBF\xBDlp'");  // parse refuses bad UTF-8
}

TEST_F(HttpConnection_test, ARefusedPeerGets403ForItsFirstRequestThenClose) {
  open("uid 5 may not use this socket");
  send(kLive);
  const auto response = next_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 403u);
  EXPECT_EQ(error_of(*response), "uid 5 may not use this socket");
  EXPECT_TRUE(closed_with_nothing_more());
}

TEST_F(HttpConnection_test, RefusedAtOnceWith503AndConnectionClose) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  client_.reset(fds[1]);
  on_io([&] {
    std::make_shared<HttpConnection<Local>>(Local::socket(io_, Local(), fds[0]), router_, registry_,
                                            limits_, *this, RequestContext{})
        ->refuse_at_once(error_reply(503, "full"));
    return 0;
  });
  const auto response = next_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 503u);
  EXPECT_EQ(response->header("connection"), "close");
  send(kLive);  // read and dropped while the daemon lingers
  EXPECT_TRUE(closed_with_nothing_more());
}

TEST_F(HttpConnection_test, TheLongestIdleConnectionMakesRoomNotOneReadingARequest) {
  auto reading = open();
  send("GET /v2/health/live HTTP/1.1\r\n");  // a request under way
  UniqueFd reading_client(client_.release());
  auto idle = open();
  send(kLive);
  ASSERT_TRUE(next_response());
  ASSERT_TRUE(eventually([&] { return idle->idle_since().has_value(); }));
  EXPECT_EQ(on_io([&] { return registry_.size(); }), 2u);
  EXPECT_TRUE(on_io([&] { return registry_.close_longest_idle(); }));
  EXPECT_TRUE(closed_with_nothing_more());
  EXPECT_FALSE(on_io([&] { return registry_.close_longest_idle(); }));
  EXPECT_EQ(on_io([&] { return registry_.size(); }), 1u);
}

TEST_F(HttpConnection_test, TheDrainServesARequestUnderWayAndClosesAfterEachReply) {
  auto reading = open();
  send("GET /v2/health/live HTTP/1.1\r\n");  // its first bytes are here before the drain
  ASSERT_TRUE(eventually([&] { return !reading->idle_since(); }));
  UniqueFd reading_client(client_.release());
  auto idle = open();
  send(kLive);
  ASSERT_TRUE(next_response());
  ASSERT_TRUE(eventually([&] { return idle->idle_since().has_value(); }));

  on_io([&] {
    draining_ = true;
    registry_.begin_drain();
    return 0;
  });
  EXPECT_EQ(on_io([&] { return registry_.reading_before_drain(); }), 1u);

  // The idle one's next request began after the drain: answered (the router refuses only infer)
  // but with Connection: close.
  send(kLive);
  auto response = next_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200u);
  EXPECT_EQ(response->header("connection"), "close");
  EXPECT_TRUE(closed_with_nothing_more());

  client_ = std::move(reading_client);
  pending_.clear();
  eof_ = false;
  send("Host: x\r\n\r\n");
  response = next_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200u);
  EXPECT_EQ(response->header("connection"), "close");
  EXPECT_EQ(on_io([&] { return registry_.reading_before_drain(); }), 0u);
  EXPECT_TRUE(closed_with_nothing_more());
}

}  // namespace
}  // namespace infervisor::supervisor
