// The daemon's registry of client shared-memory regions, alone: the registration rules, names per
// uid, limits, and unregistering that waits for the jobs holding a region. Objects are plain files
// in a folder of the test's own (the registry takes the folder /dev/shm stands for).
#include "supervisor/client_regions.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>

namespace infervisor::supervisor {
namespace {

class ClientRegions_test : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = std::filesystem::temp_directory_path() /
              fmt::format("ivregions{}_{}", ::getpid(), counter_++);
    std::filesystem::create_directories(folder_);
    regions_ = ClientRegions::create(io_.get_executor(), {4, 1 << 20}, "infervisor", folder_);
    regions_->set_on_released([this](std::uint64_t token) { released_.push_back(token); });
  }
  void TearDown() override { std::filesystem::remove_all(folder_); }

  void make_object(const std::string& name, std::size_t bytes) {
    std::ofstream(folder_ / name).close();
    std::filesystem::resize_file(folder_ / name, bytes);
  }
  unsigned status_of(auto&& call) {
    try {
      call();
      return 200;
    } catch (const HttpError& error) {
      last_error_ = error.what();
      return error.status();
    }
  }

  static inline int counter_ = 0;
  boost::asio::io_context io_;
  std::filesystem::path folder_;
  std::shared_ptr<ClientRegions> regions_;
  std::vector<std::uint64_t> released_;
  std::string last_error_;
  const uid_t me_ = ::getuid();
};

TEST_F(ClientRegions_test, RegistrationRules) {
  make_object("good", 8192);
  EXPECT_EQ(status_of([&] { regions_->register_region(me_, "r", "/none", 0, 16); }), 400u);
  EXPECT_EQ(status_of([&] { regions_->register_region(me_, "r", "good", 0, 16); }), 400u);
  EXPECT_EQ(status_of([&] { regions_->register_region(me_, "r", "/a/b", 0, 16); }), 400u);
  EXPECT_EQ(status_of([&] { regions_->register_region(me_, "r", "/good", 8192, 1); }), 400u);
  EXPECT_EQ(status_of([&] { regions_->register_region(me_, "r", "/good", ~0ull, 2); }), 400u);
  EXPECT_EQ(status_of([&] { regions_->register_region(me_, "r", "/good", 0, 0); }), 400u);
  EXPECT_EQ(status_of([&] { regions_->register_region(me_, "", "/good", 0, 16); }), 400u);
  EXPECT_EQ(status_of([&] { regions_->register_region(me_, "a/b", "/good", 0, 16); }), 400u);
  make_object("infervisor.1.2", 4096);
  EXPECT_EQ(status_of([&] { regions_->register_region(me_, "r", "/infervisor.1.2", 0, 16); }),
            403u);
  std::filesystem::create_symlink(folder_ / "good", folder_ / "link");
  EXPECT_EQ(status_of([&] { regions_->register_region(me_, "r", "/link", 0, 16); }), 400u);
  EXPECT_NE(last_error_.find("symbolic link"), std::string::npos) << last_error_;
  std::filesystem::create_hard_link(folder_ / "good", folder_ / "second_name");
  EXPECT_EQ(status_of([&] { regions_->register_region(me_, "r", "/second_name", 0, 16); }), 403u);
  EXPECT_NE(last_error_.find("hard links"), std::string::npos) << last_error_;
  std::filesystem::remove(folder_ / "second_name");
  std::filesystem::create_directory(folder_ / "dir");
  EXPECT_EQ(status_of([&] { regions_->register_region(me_, "r", "/dir", 0, 16); }), 400u);
  if (me_ == 0) {
    // Root's object registered by someone else.
    EXPECT_EQ(status_of([&] { regions_->register_region(12345, "r", "/good", 0, 16); }), 403u);
  }
  EXPECT_EQ(status_of([&] { regions_->register_region(me_, "r", "/good", 4096, 4096); }), 200u);
  EXPECT_EQ(status_of([&] { regions_->register_region(me_, "r", "/good", 0, 16); }), 400u);
  const auto status = regions_->status(me_, shm::RegionKind::kSystem, std::nullopt);
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0]->key, "/good");
  EXPECT_EQ(status[0]->offset, 4096u);
  EXPECT_EQ(status[0]->byte_size, 4096u);
}

TEST_F(ClientRegions_test, NamesArePerUidAndOnlyRootSeesAll) {
  make_object("o", 4096);
  regions_->register_region(me_, "mine", "/o", 0, 4096);
  const uid_t other = me_ + 1;
  EXPECT_TRUE(regions_->status(other, shm::RegionKind::kSystem, std::nullopt).empty());
  EXPECT_EQ(status_of([&] { regions_->find(other, "mine"); }), 400u);
  EXPECT_EQ(status_of([&] {
              regions_->unregister(other, shm::RegionKind::kSystem, "mine", [](HttpReply) {});
            }),
            400u);
  if (me_ == 0) {
    // Root's view of another uid's region: seen, usable, and another's name does not clash.
    EXPECT_EQ(regions_->find(0, "mine")->owner, 0u);
  }
  EXPECT_EQ(regions_->find(me_, "mine")->name, "mine");
}

TEST_F(ClientRegions_test, LimitsPerUid) {
  make_object("o", 1 << 20);
  for (int i = 0; i < 4; ++i)
    regions_->register_region(me_, fmt::format("r{}", i), "/o", 0, 1024);
  EXPECT_EQ(status_of([&] { regions_->register_region(me_, "r4", "/o", 0, 1024); }), 400u);
  EXPECT_NE(last_error_.find("client_shared_memory_max_regions"), std::string::npos);
  regions_->unregister(me_, shm::RegionKind::kSystem, std::nullopt, [](HttpReply) {});
  io_.run();
  EXPECT_EQ(status_of([&] { regions_->register_region(me_, "big", "/o", 0, (1 << 20) + 1); }),
            400u);
  EXPECT_EQ(status_of([&] { regions_->register_region(me_, "big", "/o", 0, 1 << 20); }), 200u);
  EXPECT_EQ(status_of([&] { regions_->register_region(me_, "more", "/o", 0, 1); }), 400u);
  EXPECT_NE(last_error_.find("client_shared_memory_max_bytes"), std::string::npos);
}

TEST_F(ClientRegions_test, UnregisterAnswersOnceTheLastJobLetsGo) {
  make_object("o", 4096);
  regions_->register_region(me_, "busy", "/o", 0, 4096);
  ClientRegionPtr held_by_a_job = regions_->find(me_, "busy");
  std::optional<unsigned> answered;
  regions_->unregister(me_, shm::RegionKind::kSystem, "busy",
                       [&](HttpReply reply) { answered = reply.status; });
  io_.run();
  io_.restart();
  EXPECT_FALSE(answered) << "answered while a job still held the region";
  EXPECT_EQ(regions_->retiring(), 1u);
  EXPECT_EQ(status_of([&] { regions_->find(me_, "busy"); }), 400u);  // gone for new jobs
  const auto token = held_by_a_job->token;
  held_by_a_job.reset();
  io_.run();
  ASSERT_TRUE(answered);
  EXPECT_EQ(*answered, 200u);
  EXPECT_EQ(released_, std::vector<std::uint64_t>{token});
  // The name is free again, under a new token.
  regions_->register_region(me_, "busy", "/o", 0, 4096);
  EXPECT_NE(regions_->find(me_, "busy")->token, token);
}

TEST_F(ClientRegions_test, CudaRegionsShareNamesButNotStatusOrUnregister) {
  const std::string handle(shm::kCudaIpcHandleBytes, '\x5a');
  EXPECT_EQ(status_of([&] { regions_->register_cuda_region(me_, "g", handle.substr(1), 0, 64); }),
            400u);
  EXPECT_NE(last_error_.find("cudaIpcMemHandle_t"), std::string::npos) << last_error_;
  EXPECT_EQ(status_of([&] { regions_->register_cuda_region(me_, "g", handle, 0, 0); }), 400u);
  EXPECT_EQ(status_of([&] { regions_->register_cuda_region(me_, "g/", handle, 0, 64); }), 400u);
  // Far beyond client_shared_memory_max_bytes: GPU memory the client holds maps no host bytes.
  regions_->register_cuda_region(me_, "g", handle, 1, std::uint64_t{1} << 40);
  make_object("o", 4096);
  regions_->register_region(me_, "s", "/o", 0, 4096);
  // One namespace of names, as in Triton.
  EXPECT_EQ(status_of([&] { regions_->register_region(me_, "g", "/o", 0, 16); }), 400u);
  EXPECT_NE(last_error_.find("CUDA region"), std::string::npos) << last_error_;

  {
    const auto cuda = regions_->status(me_, shm::RegionKind::kCuda, std::nullopt);
    ASSERT_EQ(cuda.size(), 1u);
    EXPECT_EQ(cuda[0]->name, "g");
    EXPECT_EQ(cuda[0]->device_id, 1);
    EXPECT_EQ(cuda[0]->frame_key(), handle);
  }  // (holding the region, as a job would, keeps its unregistration waiting)
  EXPECT_EQ(regions_->status(me_, shm::RegionKind::kSystem, std::nullopt).size(), 1u);
  EXPECT_EQ(status_of([&] { regions_->status(me_, shm::RegionKind::kSystem, "g"); }), 400u);
  EXPECT_NE(last_error_.find("is a CUDA shared memory region"), std::string::npos) << last_error_;
  EXPECT_EQ(status_of([&] {
              regions_->unregister(me_, shm::RegionKind::kSystem, "g", [](HttpReply) {});
            }),
            400u);

  // Unregistering every CUDA region leaves the system one.
  std::optional<unsigned> answered;
  regions_->unregister(me_, shm::RegionKind::kCuda, std::nullopt,
                       [&](HttpReply reply) { answered = reply.status; });
  io_.run();
  EXPECT_EQ(answered, 200u);
  EXPECT_TRUE(regions_->status(me_, shm::RegionKind::kCuda, std::nullopt).empty());
  EXPECT_EQ(regions_->find(me_, "s")->kind, shm::RegionKind::kSystem);
  EXPECT_EQ(released_.size(), 1u);
}

TEST_F(ClientRegions_test, RootFindsAKindByNameAcrossUids) {
  if (me_ != 0) GTEST_SKIP() << "needs root (a uid that sees every uid's regions)";
  make_object("o", 4096);
  const std::string handle(shm::kCudaIpcHandleBytes, '\x01');
  regions_->register_cuda_region(12345, "x", handle, 0, 64);
  ASSERT_EQ(::chown((folder_ / "o").c_str(), 54321, static_cast<gid_t>(-1)), 0);
  regions_->register_region(54321, "x", "/o", 0, 64);
  EXPECT_EQ(regions_->find(0, "x", shm::RegionKind::kCuda)->owner, 12345u);
  EXPECT_EQ(regions_->find(0, "x", shm::RegionKind::kSystem)->owner, 54321u);
  EXPECT_EQ(status_of([&] { regions_->find(0, "x"); }), 400u);  // either kind: ambiguous
}

}  // namespace
}  // namespace infervisor::supervisor
