#include "supervisor/peer_access.hpp"

#include <gtest/gtest.h>

#include "common/error.hpp"

namespace infervisor::supervisor {
namespace {

TEST(PeerAccess_test, EveryoneWhenNothingIsListed) {
  const PeerAccess sut;
  EXPECT_TRUE(sut.everyone());
  EXPECT_FALSE(sut.refusal(1000, 1000, {}));
}

TEST(PeerAccess_test, AListedUidOrGroupOrRootIsAllowed) {
  const PeerAccess sut({1001}, {50, 60});
  const std::vector<gid_t> none;
  const std::vector<gid_t> supplementary_60{7, 60};
  EXPECT_FALSE(sut.refusal(1001, 1001, none));              // listed uid
  EXPECT_FALSE(sut.refusal(0, 0, none));                    // root, never listed
  EXPECT_FALSE(sut.refusal(2000, 50, none));                // primary group listed
  EXPECT_FALSE(sut.refusal(2000, 2000, supplementary_60));  // a supplementary group listed
  const auto refusal = sut.refusal(2000, 2000, std::vector<gid_t>{7, 8});
  ASSERT_TRUE(refusal);
  EXPECT_NE(refusal->find("uid 2000"), std::string::npos) << *refusal;
  EXPECT_TRUE(sut.allows_uid(1001));
  EXPECT_FALSE(sut.allows_uid(2000));
}

TEST(PeerAccess_test, FromConfigResolvesGroupNamesAndRefusesUnknownOnes) {
  DaemonConfig config;
  config.source = "/etc/infervisor/d.yaml";
  config.allow_uids = {1001};
  config.allow_groups = {"root", "4242"};
  const auto sut = PeerAccess::from_config(config);
  EXPECT_FALSE(sut.refusal(3000, 0, {}));     // "root" is gid 0
  EXPECT_FALSE(sut.refusal(3000, 4242, {}));  // a number needs no group entry
  EXPECT_TRUE(sut.refusal(3000, 3000, {}));
  config.allow_groups = {"root", "no-such-group-infervisor"};
  try {
    PeerAccess::from_config(config);
    FAIL() << "an unknown group was accepted";
  } catch (const InfervisorError& error) {
    EXPECT_STREQ(error.what(),
                 "/etc/infervisor/d.yaml: allow_groups[1]: no group named "
                 "'no-such-group-infervisor' (a group name or a number)");
  }
}

}  // namespace
}  // namespace infervisor::supervisor
