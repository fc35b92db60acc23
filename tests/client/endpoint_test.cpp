#include "client/endpoint.hpp"

#include <gtest/gtest.h>

#include "common/error.hpp"

namespace infervisor::client {
namespace {

TEST(client_endpoint_test, ParsesHostAndPort) {
  const auto sut = parse_url("http://localhost:8000");
  EXPECT_EQ(sut.host, "localhost");
  EXPECT_EQ(sut.port, 8000);
  EXPECT_EQ(parse_url("http://10.0.0.7:9/").host, "10.0.0.7");
}

TEST(client_endpoint_test, ParsesBracketedIPv6) {
  const auto sut = parse_url("http://[::1]:8000");
  EXPECT_EQ(sut.host, "::1");
  EXPECT_EQ(sut.port, 8000);
  EXPECT_EQ(host_header(sut), "[::1]:8000");
}

TEST(client_endpoint_test, RefusesBadUrls) {
  for (const char* url :
       {"", "localhost:8000", "https://h:1", "http://h", "http://h:", "http://:80", "http://h:0",
        "http://h:65536", "http://h:80/v2", "http://h:8x", "http://::1:80", "http://[::1]80",
        "http://[::1:80", "http://u@h:80", "ftp://h:21"}) {
    EXPECT_THROW(parse_url(url), InfervisorError) << url;
  }
}

TEST(client_endpoint_test, DescribesEndpoints) {
  EXPECT_EQ(describe(UnixEndpoint{"/run/x.sock"}), "unix:/run/x.sock");
  EXPECT_EQ(describe(TcpEndpoint{"h", 80}), "http://h:80");
  EXPECT_EQ(host_header(UnixEndpoint{"/run/x.sock"}), "localhost");
}

}  // namespace
}  // namespace infervisor::client
