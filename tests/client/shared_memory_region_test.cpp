#include "client/shared_memory_region.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <utility>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace infervisor::client {
namespace {

constexpr std::string_view kPrefix = "ivtest";

std::filesystem::path path_of(const SystemRegion& region) {
  return std::filesystem::path("/dev/shm") / std::string(region.object_name());
}

// The n of "/<prefix>.<pid>.<n>".
std::uint64_t number_of(const SystemRegion& region) {
  const auto& key = region.key();
  return std::stoull(key.substr(key.rfind('.') + 1));
}

TEST(client_shared_memory_region_test, CreatesAPrivateObjectOfTheSizeAsked) {
  const SystemRegion sut(1000, kPrefix);
  EXPECT_EQ(sut.byte_size(), 1000u);
  EXPECT_EQ(sut.bytes().size(), 1000u);
  const auto expected_start = fmt::format("/{}.{}.", kPrefix, ::getpid());
  EXPECT_TRUE(sut.key().starts_with(expected_start)) << sut.key();
  EXPECT_EQ(sut.object_name(), sut.key().substr(1));
  struct stat status {};
  ASSERT_EQ(::lstat(path_of(sut).c_str(), &status), 0) << path_of(sut);
  EXPECT_TRUE(S_ISREG(status.st_mode));
  EXPECT_EQ(status.st_mode & 0777, 0600u);
  EXPECT_EQ(status.st_size, 1000);
  EXPECT_EQ(status.st_uid, ::geteuid());
}

TEST(client_shared_memory_region_test, AnotherMappingSeesTheBytes) {
  SystemRegion sut(4096, kPrefix);
  std::memcpy(sut.bytes().data() + 100, "hello", 5);
  // What the server does with the key it is given.
  UniqueFd fd(::shm_open(sut.key().c_str(), O_RDONLY, 0));
  ASSERT_TRUE(fd) << sut.key();
  void* view = ::mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(view, MAP_FAILED);
  EXPECT_EQ(std::memcmp(static_cast<const char*>(view) + 100, "hello", 5), 0);
  ::munmap(view, 4096);
}

TEST(client_shared_memory_region_test, DestructionUnlinksTheObject) {
  std::filesystem::path path;
  {
    const SystemRegion sut(1, kPrefix);
    path = path_of(sut);
    EXPECT_TRUE(std::filesystem::exists(path));
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(client_shared_memory_region_test, MovesOwnership) {
  SystemRegion first(10, kPrefix);
  const auto first_path = path_of(first);
  const auto first_key = first.key();
  SystemRegion sut(std::move(first));
  EXPECT_EQ(sut.key(), first_key);
  EXPECT_TRUE(first.key().empty());
  EXPECT_TRUE(first.bytes().empty());
  EXPECT_TRUE(std::filesystem::exists(first_path));

  SystemRegion other(20, kPrefix);
  const auto other_path = path_of(other);
  sut = std::move(other);  // lets go of the first object
  EXPECT_FALSE(std::filesystem::exists(first_path));
  EXPECT_TRUE(std::filesystem::exists(other_path));
  EXPECT_EQ(sut.byte_size(), 20u);
  EXPECT_EQ(other.byte_size(), 0u);
}

TEST(client_shared_memory_region_test, EveryRegionHasItsOwnName) {
  const SystemRegion a(1, kPrefix);
  const SystemRegion b(1, kPrefix);
  EXPECT_NE(a.key(), b.key());
  EXPECT_TRUE(std::filesystem::exists(path_of(a)));
  EXPECT_TRUE(std::filesystem::exists(path_of(b)));
}

TEST(client_shared_memory_region_test, AnExistingObjectIsSkippedNotOpened) {
  const SystemRegion before(1, kPrefix);
  // Plant the name the next region would take, as a killed process with our pid would leave it.
  const auto planted_key = fmt::format("/{}.{}.{}", kPrefix, ::getpid(), number_of(before) + 1);
  const auto planted_path = std::filesystem::path("/dev/shm") / planted_key.substr(1);
  {
    UniqueFd fd(::shm_open(planted_key.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600));
    ASSERT_TRUE(fd) << planted_key;
    ASSERT_EQ(::write(fd.get(), "planted", 7), 7);
  }
  {
    const SystemRegion sut(4096, kPrefix);
    EXPECT_EQ(number_of(sut), number_of(before) + 2);
    EXPECT_EQ(std::filesystem::file_size(planted_path), 7u);
  }
  EXPECT_TRUE(std::filesystem::exists(planted_path));  // not ours to unlink
  ::shm_unlink(planted_key.c_str());
}

TEST(client_shared_memory_region_test, RefusesImpossibleRegions) {
  const auto code_of = [](auto&& make) {
    try {
      make();
    } catch (const InfervisorError& error) {
      return error.code();
    }
    ADD_FAILURE() << "expected an InfervisorError";
    return ErrorCode::kModel;
  };
  EXPECT_EQ(code_of([] { SystemRegion(0, kPrefix); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([] { SystemRegion(1, ""); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([] { SystemRegion(1, "a/b"); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([] { SystemRegion(1, std::string(300, 'a')); }), ErrorCode::kInvalidArgument);
  // More than the address space: ftruncate or mmap fails, and nothing is left behind.
  EXPECT_EQ(code_of([] { SystemRegion(std::size_t{1} << 62, kPrefix); }), ErrorCode::kSystem);
  const auto leftover = fmt::format("{}.{}.", kPrefix, ::getpid());
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
    EXPECT_FALSE(entry.path().filename().string().starts_with(leftover)) << entry.path();
  }
}

}  // namespace
}  // namespace infervisor::client
