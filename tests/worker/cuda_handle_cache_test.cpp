// The worker's cache of opened CUDA handles, with a fake opener: each handle opened once however
// many regions carry it, closed when the last is released, sizes checked, and failures to open
// sorted into the client's (400) and the worker's (500).
#include "worker/cuda_handle_cache.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace infervisor::worker {
namespace {

class CudaHandleCache_test : public ::testing::Test {
 protected:
  CudaHandleCache::Open opener() {
    return [this](std::span<const std::byte> handle, CudaHandleCache::Opened& opened) {
      const std::string key(reinterpret_cast<const char*>(handle.data()), handle.size());
      const auto block = blocks_.find(key);
      if (block == blocks_.end()) return std::string("cudaErrorInvalidValue");
      ++opens_;
      opened = {block->second.data(), block->second.size()};
      return std::string();
    };
  }
  CudaHandleCache::Close closer() {
    return [this](std::byte* base) { closed_.push_back(base); };
  }
  static shm::RegionRef ref(std::uint64_t token, const std::string& handle,
                            std::uint64_t byte_size) {
    shm::RegionRef region;
    region.token = token;
    region.key = handle;
    region.byte_size = byte_size;
    region.kind = shm::RegionKind::kCuda;
    return region;
  }

  const std::string a_ = std::string(shm::kCudaIpcHandleBytes, 'a');
  const std::string b_ = std::string(shm::kCudaIpcHandleBytes, 'b');
  std::map<std::string, std::vector<std::byte>> blocks_{{a_, std::vector<std::byte>(4096)},
                                                        {b_, std::vector<std::byte>(64)}};
  int opens_ = 0;
  std::vector<std::byte*> closed_;
};

TEST_F(CudaHandleCache_test, OpensEachHandleOnceAndClosesAfterTheLastRegion) {
  CudaHandleCache sut(opener(), closer());
  const auto first = sut.map(ref(1, a_, 1024));
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->data(), blocks_[a_].data());
  EXPECT_EQ(first->size(), 1024u);
  const auto second = sut.map(ref(2, a_, 4096));  // another region on the same block
  ASSERT_TRUE(second);
  EXPECT_EQ(second->size(), 4096u);
  EXPECT_TRUE(sut.map(ref(1, a_, 1024)));  // the same region again: no new open
  EXPECT_EQ(opens_, 1);
  EXPECT_EQ(sut.open_handles(), 1u);
  sut.release(1);
  EXPECT_TRUE(closed_.empty()) << "closed while region 2 still uses the handle";
  sut.release(2);
  ASSERT_EQ(closed_.size(), 1u);
  EXPECT_EQ(closed_[0], blocks_[a_].data());
  sut.release(2);  // twice, or never mapped: ignored
  sut.release(99);
  EXPECT_EQ(closed_.size(), 1u);
  EXPECT_EQ(sut.open_handles(), 0u);
}

TEST_F(CudaHandleCache_test, RefusesABlockSmallerThanTheRegistration) {
  CudaHandleCache sut(opener(), closer());
  const auto too_big = sut.map(ref(1, b_, 65));
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(too_big.error().message.find("only 64 bytes"), std::string::npos)
      << too_big.error().message;
  EXPECT_EQ(closed_.size(), 1u) << "a handle no region uses must be closed";
  EXPECT_TRUE(sut.map(ref(2, b_, 64)));
}

TEST_F(CudaHandleCache_test, SortsFailuresByWhoseFaultTheyAre) {
  CudaHandleCache sut(opener(), closer());
  const auto bogus = sut.map(ref(1, std::string(shm::kCudaIpcHandleBytes, 'z'), 8));
  ASSERT_FALSE(bogus);
  EXPECT_EQ(bogus.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(bogus.error().message.find("cudaErrorInvalidValue"), std::string::npos);
  EXPECT_EQ(sut.open_handles(), 0u);

  CudaHandleCache unconnected;  // a CPU worker
  const auto refused = unconnected.map(ref(1, a_, 8));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kSystem);
}

TEST_F(CudaHandleCache_test, ClosesWhatIsStillOpenWhenDestroyed) {
  {
    CudaHandleCache sut(opener(), closer());
    ASSERT_TRUE(sut.map(ref(1, a_, 8)));
    ASSERT_TRUE(sut.map(ref(2, b_, 8)));
  }
  EXPECT_EQ(closed_.size(), 2u);
}

}  // namespace
}  // namespace infervisor::worker
