// Record types as read from a peer: only the seven known values pass, and each has a name for logs.
#include "shm/layout.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace infervisor::shm {
namespace {

TEST(Layout_test, OnlyKnownRecordTypesPass) {
  EXPECT_FALSE(is_known_record_type(0));
  for (std::uint32_t raw = 1; raw <= 8; ++raw)
    EXPECT_TRUE(is_known_record_type(raw)) << raw;
  EXPECT_FALSE(is_known_record_type(9));
  EXPECT_FALSE(is_known_record_type(0xffffffff));
}

TEST(Layout_test, EveryRecordTypeHasItsOwnName) {
  std::set<std::string> names;
  for (std::uint32_t raw = 1; raw <= 8; ++raw) {
    const std::string name = record_type_name(static_cast<RecordType>(raw));
    EXPECT_NE(name, "UNKNOWN") << raw;
    names.insert(name);
  }
  EXPECT_EQ(names.size(), 8u);
  EXPECT_STREQ(record_type_name(RecordType::kShutdownAck), "SHUTDOWN_ACK");
  EXPECT_STREQ(record_type_name(static_cast<RecordType>(99)), "UNKNOWN");
}

}  // namespace
}  // namespace infervisor::shm
