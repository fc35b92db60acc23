#include "supervisor/http_request_checks.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace infervisor::supervisor {
namespace {
namespace http = boost::beast::http;

HttpRequestHead head(std::vector<std::pair<std::string, std::string>> fields,
                     unsigned version = 11) {
  HttpRequestHead out;
  out.method(http::verb::post);
  out.target("/v2/models/m/infer");
  out.version(version);
  for (const auto& [name, value] : fields)
    out.insert(name, value);
  return out;
}

// {status, message}; {0, ""} when the head is accepted.
std::pair<unsigned, std::string> verdict(const HttpRequestHead& request) {
  const auto refused = refuse_request_head(request, HttpLimits{});
  if (!refused) return {0, ""};
  return {refused->status, std::string(boost::json::parse(refused->body).at("error").as_string())};
}

TEST(HttpRequestChecks_test, AcceptsOrdinaryRequests) {
  EXPECT_EQ(verdict(head({{"Host", "localhost"}, {"Content-Length", "10"}})).first, 0u);
  EXPECT_EQ(verdict(head({{"Host", "x"}, {"Transfer-Encoding", "chunked"}})).first, 0u);
  EXPECT_EQ(verdict(head({{"Host", "x"}, {"Transfer-Encoding", " Chunked "}})).first, 0u);
  EXPECT_EQ(verdict(head({{"Host", "x"}, {"Transfer-Encoding", ", chunked"}})).first, 0u);
  EXPECT_EQ(verdict(head({}, 10)).first, 0u);  // HTTP/1.0 needs no Host
}

// RFC 9112 6.1: a request whose last transfer coding is not chunked has a body whose length
// nobody can know; Beast reads it as having no body, so the body would be taken for the next
// request (request smuggling).
TEST(HttpRequestChecks_test, TransferEncodingMustEndInOneChunked) {
  for (const std::string value : {"gzip", "identity", "chunked, gzip", "", " , "}) {
    const auto [status, message] = verdict(head({{"Host", "x"}, {"Transfer-Encoding", value}}));
    EXPECT_EQ(status, 400u) << "'" << value << "': " << message;
  }
  auto [status, message] =
      verdict(head({{"Host", "x"}, {"Transfer-Encoding", "chunked, chunked"}}));
  EXPECT_EQ(status, 400u) << message;
  EXPECT_NE(message.find("chunked more than once"), std::string::npos) << message;
  std::tie(status, message) = verdict(
      head({{"Host", "x"}, {"Transfer-Encoding", "gzip"}, {"Transfer-Encoding", "chunked"}}));
  EXPECT_EQ(status, 501u) << message;
  EXPECT_NE(message.find("'gzip' is not supported"), std::string::npos) << message;
  std::tie(status, message) =
      verdict(head({{"Host", "x"}, {"Transfer-Encoding", "chunked"}, {"Content-Length", "5"}}));
  EXPECT_EQ(status, 400u) << message;
  std::tie(status, message) = verdict(head({{"Transfer-Encoding", "chunked"}}, 10));
  EXPECT_EQ(status, 400u) << message;
  EXPECT_NE(message.find("HTTP/1.0"), std::string::npos) << message;
}

TEST(HttpRequestChecks_test, Http11NeedsExactlyOneHost) {
  auto [status, message] = verdict(head({}));
  EXPECT_EQ(status, 400u);
  EXPECT_NE(message.find("needs a Host header"), std::string::npos) << message;
  std::tie(status, message) = verdict(head({{"Host", "a"}, {"Host", "b"}}));
  EXPECT_EQ(status, 400u);
  EXPECT_NE(message.find("2 Host headers"), std::string::npos) << message;
}

TEST(HttpRequestChecks_test, TooManyFieldsAre431) {
  std::vector<std::pair<std::string, std::string>> fields{{"Host", "x"}};
  for (int i = 1; i < 100; ++i)
    fields.emplace_back(fmt::format("X-Field-{}", i), "v");
  EXPECT_EQ(verdict(head(fields)).first, 0u);  // 100: the limit itself
  fields.emplace_back("X-One-More", "v");
  const auto [status, message] = verdict(head(fields));
  EXPECT_EQ(status, 431u);
  EXPECT_NE(message.find("101 header fields"), std::string::npos) << message;
}

TEST(HttpRequestChecks_test, QuotedValuesAreBoundedAndValidUtf8) {
  const auto [status, message] =
      verdict(head({{"Host", "x"}, {"Transfer-Encoding", "\xff" + std::string(500, 'g')}}));
  EXPECT_EQ(status, 400u);
  EXPECT_LT(message.size(), 200u) << message;  // and it parsed as JSON above
}

}  // namespace
}  // namespace infervisor::supervisor
