#include "common/socket_path.hpp"

#include <gtest/gtest.h>

namespace infervisor {
namespace {

TEST(socket_path_test, InfervisorSocketWins) {
  EXPECT_EQ(default_socket_path("/tmp/x.sock", "/run/user/1000", false), "/tmp/x.sock");
  EXPECT_EQ(default_socket_path("/tmp/x.sock", std::nullopt, true), "/tmp/x.sock");
}

TEST(socket_path_test, AnEmptyInfervisorSocketCountsAsUnset) {
  EXPECT_EQ(default_socket_path("", "/run/user/1000", false),
            "/run/user/1000/infervisor/infervisor.sock");
}

TEST(socket_path_test, AUserGetsTheRuntimeDir) {
  EXPECT_EQ(default_socket_path(std::nullopt, "/run/user/1000", false),
            "/run/user/1000/infervisor/infervisor.sock");
}

TEST(socket_path_test, RootGetsRunEvenWithARuntimeDir) {
  EXPECT_EQ(default_socket_path(std::nullopt, "/run/user/0", true),
            "/run/infervisor/infervisor.sock");
}

TEST(socket_path_test, WithoutARuntimeDirEveryoneGetsRun) {
  EXPECT_EQ(default_socket_path(std::nullopt, std::nullopt, false),
            "/run/infervisor/infervisor.sock");
  EXPECT_EQ(default_socket_path(std::nullopt, "", false), "/run/infervisor/infervisor.sock");
}

TEST(socket_path_test, ARelativeRuntimeDirIsIgnored) {
  // The XDG Base Directory spec: relative paths in these variables are invalid.
  EXPECT_EQ(default_socket_path(std::nullopt, "run/user/1000", false),
            "/run/infervisor/infervisor.sock");
}

}  // namespace
}  // namespace infervisor
