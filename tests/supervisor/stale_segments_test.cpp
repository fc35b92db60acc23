#include "supervisor/stale_segments.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/child_process.hpp"

namespace infervisor::supervisor {
namespace {

// Real names in /dev/shm under a prefix no one else uses.
class StaleSegments_test : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const auto& name : created_)
      ::shm_unlink(("/" + name).c_str());
  }
  void create(const std::string& name) {
    const int fd = ::shm_open(("/" + name).c_str(), O_CREAT | O_RDWR, 0600);
    ASSERT_GE(fd, 0) << name;
    ::close(fd);
    created_.push_back(name);
  }
  static bool exists(const std::string& name) {
    return std::filesystem::exists("/dev/shm/" + name);
  }

  const std::string prefix_ = "ivstale" + std::to_string(::getpid());
  std::vector<std::string> created_;
};

TEST_F(StaleSegments_test, RemovesOnlyThoseOfDeadCreatorsWithThePrefix) {
  auto child = ChildProcess::spawn("/bin/true", {});
  child.wait();
  const auto dead = std::to_string(child.pid());  // reaped: no such process any more
  const auto live = std::to_string(::getpid());
  create(prefix_ + "." + dead + ".aaaa");   // stale: removed
  create(prefix_ + "." + live + ".bbbb");   // a live daemon's: kept
  create(prefix_ + "x." + dead + ".cccc");  // another prefix: kept
  create(prefix_ + ".notapid.dddd");        // not a segment name: kept
  const auto removed = remove_stale_segments(prefix_);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0], prefix_ + "." + dead + ".aaaa");
  EXPECT_FALSE(exists(prefix_ + "." + dead + ".aaaa"));
  EXPECT_TRUE(exists(prefix_ + "." + live + ".bbbb"));
  EXPECT_TRUE(exists(prefix_ + "x." + dead + ".cccc"));
  EXPECT_TRUE(exists(prefix_ + ".notapid.dddd"));
}

}  // namespace
}  // namespace infervisor::supervisor
