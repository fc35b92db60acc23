#include "client/http_transport.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "common/error.hpp"
#include "tests/client/fake_http_server.hpp"

namespace infervisor::client {
namespace {

using testing::FakeHttpServer;
using testing::http_response;
using namespace std::chrono_literals;

class client_http_transport_test : public ::testing::Test {
 protected:
  TransportOptions options() const {
    TransportOptions options;
    options.endpoint = UnixEndpoint{server.socket_path()};
    options.connect_timeout = 2s;
    options.request_timeout = 5s;
    return options;
  }

  static HttpRequest get(std::string target) {
    return HttpRequest{"GET", std::move(target), {}, {}, {}};
  }

  // The code of the InfervisorError `f` throws (a test failure if it throws none).
  template <class F>
  static ErrorCode code_of(F&& f, std::string* message = nullptr) {
    try {
      f();
    } catch (const InfervisorError& error) {
      if (message) *message = error.what();
      return error.code();
    }
    ADD_FAILURE() << "expected an InfervisorError";
    return ErrorCode::kSystem;
  }

  FakeHttpServer server;
};

TEST_F(client_http_transport_test, KeepAliveReusesOneConnection) {
  HttpTransport sut(options());
  for (int i = 0; i < 3; ++i)
    server.reply(http_response(200, R"({"i":)" + std::to_string(i) + "}"));
  for (int i = 0; i < 3; ++i) {
    const auto response = sut.exchange(get("/v2/health/ready"));
    EXPECT_EQ(response.status, 200u);
    EXPECT_EQ(response.body, R"({"i":)" + std::to_string(i) + "}");
    EXPECT_EQ(response.header("content-type"), "application/json");
  }
  EXPECT_EQ(sut.connections_opened(), 1u);
  EXPECT_EQ(server.connections(), 1);
  const auto received = server.received();
  ASSERT_EQ(received.size(), 3u);
  EXPECT_EQ(received[0].method, "GET");
  EXPECT_EQ(received[0].target, "/v2/health/ready");
  EXPECT_EQ(received[0].header("Host"), "localhost");
  EXPECT_FALSE(received[0].header("Content-Length").has_value());
}

TEST_F(client_http_transport_test, ConnectionCloseOpensAFreshConnection) {
  HttpTransport sut(options());
  server.reply(http_response(200, "{}", {{"Connection", "close"}}), FakeHttpServer::After::kClose);
  server.reply(http_response(200, "{}"));
  EXPECT_EQ(sut.exchange(get("/a")).status, 200u);
  EXPECT_EQ(sut.exchange(get("/b")).status, 200u);
  EXPECT_EQ(sut.connections_opened(), 2u);
  EXPECT_EQ(server.received().size(), 2u);
}

// The server closes a kept-alive connection while it is idle (as servers do on an idle timeout):
// the next request fails before any response byte and goes again on a fresh connection.
TEST_F(client_http_transport_test, AnIdleConnectionTheServerClosedIsRetried) {
  HttpTransport sut(options());
  server.reply(http_response(200, "{}"), FakeHttpServer::After::kClose);
  server.reply(http_response(200, R"({"second":true})"));
  EXPECT_EQ(sut.exchange(get("/a")).status, 200u);
  // The server's close() has put the end of the stream in our socket once it returns.
  while (server.closed() < 1)
    std::this_thread::yield();
  EXPECT_EQ(sut.exchange(get("/b")).body, R"({"second":true})");
  EXPECT_EQ(sut.connections_opened(), 2u);
  const auto received = server.received();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[1].target, "/b");
}

TEST_F(client_http_transport_test, SendsTheBodyAndItsTailAsOneBody) {
  HttpTransport sut(options());
  server.reply(http_response(200, "{}"));
  const std::string tail1 = "\x01\x02\x03", tail2 = "xyz";
  HttpRequest request{"POST",
                      "/v2/models/m/infer",
                      {{"Content-Type", "application/octet-stream"}},
                      "{\"a\":1}",
                      {std::as_bytes(std::span(tail1)), std::as_bytes(std::span(tail2))}};
  sut.exchange(request);
  const auto received = server.received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].body, "{\"a\":1}\x01\x02\x03xyz");
  EXPECT_EQ(received[0].header("Content-Length"), "13");
  EXPECT_EQ(received[0].header("Content-Type"), "application/octet-stream");
}

TEST_F(client_http_transport_test, AServerThatNeverAnswersTimesOut) {
  auto slow = options();
  slow.request_timeout = 300ms;
  HttpTransport sut(slow);
  server.reply("", FakeHttpServer::After::kNoReply);
  const auto start = std::chrono::steady_clock::now();
  std::string message;
  EXPECT_EQ(code_of([&] { sut.exchange(get("/v2/health/ready")); }, &message), ErrorCode::kTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_NE(message.find("GET /v2/health/ready"), std::string::npos) << message;
  // The transport recovers: the next request connects afresh.
  server.reply(http_response(200, "{}"));
  EXPECT_EQ(sut.exchange(get("/again")).status, 200u);
}

TEST_F(client_http_transport_test, ConnectFailureNamesTheSocket) {
  auto missing = options();
  missing.endpoint = UnixEndpoint{server.socket_path().parent_path() / "missing.sock"};
  HttpTransport sut(missing);
  std::string message;
  EXPECT_EQ(code_of([&] { sut.exchange(get("/")); }, &message), ErrorCode::kPeerGone);
  EXPECT_NE(message.find("missing.sock"), std::string::npos) << message;
}

TEST_F(client_http_transport_test, ATooLongSocketPathIsRefused) {
  auto long_path = options();
  long_path.endpoint = UnixEndpoint{"/tmp/" + std::string(200, 'x')};
  HttpTransport sut(long_path);
  EXPECT_EQ(code_of([&] { sut.exchange(get("/")); }), ErrorCode::kInvalidArgument);
}

TEST_F(client_http_transport_test, GarbageIsNotAResponse) {
  HttpTransport sut(options());
  server.reply("SSH-2.0-OpenSSH_9.2\r\n\r\n", FakeHttpServer::After::kClose);
  EXPECT_EQ(code_of([&] { sut.exchange(get("/")); }), ErrorCode::kCorrupt);
  server.reply("HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n", FakeHttpServer::After::kClose);
  EXPECT_EQ(code_of([&] { sut.exchange(get("/")); }), ErrorCode::kCorrupt);
}

TEST_F(client_http_transport_test, AResponseCutShortIsNotRetried) {
  HttpTransport sut(options());
  server.reply("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this",
               FakeHttpServer::After::kClose);
  std::string message;
  EXPECT_EQ(code_of([&] { sut.exchange(get("/")); }, &message), ErrorCode::kPeerGone);
  EXPECT_EQ(server.received().size(), 1u) << "a started response must not be sent again";
}

TEST_F(client_http_transport_test, AResponseOverTheLimitIsRefused) {
  auto small = options();
  small.max_response_bytes = 100;
  HttpTransport sut(small);
  server.reply(http_response(200, std::string(1000, 'x')));
  EXPECT_EQ(code_of([&] { sut.exchange(get("/")); }), ErrorCode::kTooLarge);
}

TEST_F(client_http_transport_test, HeaderInjectionIsRefusedBeforeSending) {
  HttpTransport sut(options());
  EXPECT_EQ(code_of([&] { sut.exchange(get("/a\r\nX-Evil: 1")); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { sut.exchange(get("/a b")); }), ErrorCode::kInvalidArgument);
  HttpRequest bad_header = get("/");
  bad_header.headers = {{"X-Id", "1\r\nX-Evil: 1"}};
  EXPECT_EQ(code_of([&] { sut.exchange(bad_header); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(server.connections(), 0);
}

}  // namespace
}  // namespace infervisor::client
