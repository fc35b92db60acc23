#include "tests/shm/shm_fixture.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <filesystem>

namespace infervisor::shm::testing {

std::vector<std::string> shm_names_with_prefix(std::string_view prefix) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
    auto name = entry.path().filename().string();
    if (name.starts_with(prefix)) names.push_back(std::move(name));
  }
  return names;
}

ShmFixture::ShmFixture(std::string_view binary_prefix)
    : prefix_(binary_prefix), name_start_(fmt::format("{}.{}.", binary_prefix, ::getpid())) {}

void ShmFixture::expect_no_leftover_segments() const {
  const auto left = shm_names_with_prefix(name_start_);
  EXPECT_TRUE(left.empty()) << "left in /dev/shm: " << fmt::format("{}", fmt::join(left, ", "));
}

}  // namespace infervisor::shm::testing
