#include "supervisor/unix_group.hpp"

#include <gtest/gtest.h>

#include "common/error.hpp"

namespace infervisor::supervisor {
namespace {

TEST(UnixGroup_test, NamesAndNumbers) {
  EXPECT_EQ(find_group("root"), gid_t{0});
  EXPECT_EQ(find_group("0"), gid_t{0});
  EXPECT_EQ(find_group("54321"), gid_t{54321});  // need not exist
  EXPECT_EQ(find_group("no-such-group-infervisor"), std::nullopt);
  EXPECT_EQ(find_group(""), std::nullopt);
  EXPECT_EQ(find_group("12ab"), std::nullopt);  // not a number, and no such name
}

TEST(UnixGroup_test, AnUnknownGroupIsAConfigErrorNamingTheKey) {
  EXPECT_EQ(resolve_group("7", "d.yaml", "socket_group"), gid_t{7});
  try {
    resolve_group("nope-infervisor", "d.yaml", "socket_group");
    FAIL();
  } catch (const InfervisorError& error) {
    EXPECT_STREQ(error.what(),
                 "d.yaml: socket_group: no group named 'nope-infervisor' (a group name or a "
                 "number)");
  }
}

}  // namespace
}  // namespace infervisor::supervisor
