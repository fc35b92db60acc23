// The base fixture of every shared-memory test: a segment prefix of the test binary's own, and a
// check after each test that nothing with it is left in /dev/shm, crashed peers included.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace infervisor::shm::testing {

// Names in /dev/shm that start with `prefix`.
std::vector<std::string> shm_names_with_prefix(std::string_view prefix);

class ShmFixture : public ::testing::Test {
 protected:
  // `binary_prefix` names the test binary ("ivt-ring"); it must differ between binaries.
  explicit ShmFixture(std::string_view binary_prefix);

  // What to pass to Segment::create.
  const std::string& prefix() const noexcept { return prefix_; }
  // Every name this process creates starts so: Segment names are "<prefix>.<pid>.<random>". The
  // pid keeps tests of the same binary that CTest runs in parallel out of each other's way.
  const std::string& name_start() const noexcept { return name_start_; }

  void expect_no_leftover_segments() const;
  // Checked here, not in TearDown: a derived fixture's members (a Segment, a child process) are
  // destroyed by now. GoogleTest still counts a failure here against the test.
  ~ShmFixture() override { expect_no_leftover_segments(); }

 private:
  std::string prefix_;
  std::string name_start_;
};

}  // namespace infervisor::shm::testing
