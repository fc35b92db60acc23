#include "supervisor/unix_socket_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "common/error.hpp"

namespace infervisor::supervisor {
namespace {

class UnixSocketFile_test : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = std::filesystem::temp_directory_path() / ("ivsock-" + std::to_string(::getpid()));
    path_ = folder_ / "sub" / "d.sock";
  }
  void TearDown() override { std::filesystem::remove_all(folder_); }

  boost::asio::io_context io_;
  std::filesystem::path folder_;
  std::filesystem::path path_;
};

TEST_F(UnixSocketFile_test, CreatesItsFolderAndRemovesTheFileAfterwards) {
  {
    UnixSocketFile sut(io_, path_);
    EXPECT_TRUE(std::filesystem::is_socket(path_));
    EXPECT_EQ(std::filesystem::status(path_).permissions() & std::filesystem::perms::others_all,
              std::filesystem::perms::none);
  }
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(UnixSocketFile_test, RefusesToStealALiveDaemonsSocket) {
  UnixSocketFile live(io_, path_);
  try {
    UnixSocketFile second(io_, path_);
    FAIL() << "two daemons on one socket";
  } catch (const InfervisorError& error) {
    EXPECT_NE(std::string(error.what()).find("another daemon"), std::string::npos);
  }
  EXPECT_TRUE(std::filesystem::is_socket(path_));  // the live one keeps its file
}

TEST_F(UnixSocketFile_test, ReplacesAStaleSocketFile) {
  // A daemon that crashed leaves its socket file with nobody listening on it.
  std::filesystem::create_directories(path_.parent_path());
  boost::asio::local::stream_protocol::acceptor stale(
      io_, boost::asio::local::stream_protocol::endpoint(path_.string()));
  stale.close();
  ASSERT_TRUE(std::filesystem::is_socket(path_));
  UnixSocketFile sut(io_, path_);
  EXPECT_TRUE(std::filesystem::is_socket(path_));
}

TEST_F(UnixSocketFile_test, RefusesAPathThatIsNotASocket) {
  std::filesystem::create_directories(path_.parent_path());
  std::ofstream(path_) << "data";
  EXPECT_THROW(UnixSocketFile(io_, path_), InfervisorError);
  EXPECT_TRUE(std::filesystem::is_regular_file(path_));  // left alone
}

TEST_F(UnixSocketFile_test, RefusesAPathTooLongForSunPath) {
  EXPECT_THROW(UnixSocketFile(io_, folder_ / std::string(200, 'x')), InfervisorError);
}

TEST_F(UnixSocketFile_test, TheFileHasTheConfiguredModeAndGroup) {
  // Root may give the file any group; anyone else one of its own.
  const gid_t group = ::geteuid() == 0 ? 4321 : ::getegid();
  {
    UnixSocketFile sut(io_, path_, 0640, group);
    struct stat info {};
    ASSERT_EQ(::lstat(path_.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0640u);
    EXPECT_EQ(info.st_gid, group);
  }
  UnixSocketFile sut(io_, path_, 0666);
  struct stat info {};
  ASSERT_EQ(::lstat(path_.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0666u);  // whatever the umask
}

TEST_F(UnixSocketFile_test, AGroupItCannotHaveFailsTheStartAndLeavesNoFile) {
  if (::geteuid() == 0) GTEST_SKIP() << "root may give the file any group";
  try {
    UnixSocketFile sut(io_, path_, 0660, gid_t{0});
    FAIL() << "a non-root daemon gave its socket to group 0";
  } catch (const InfervisorError& error) {
    EXPECT_NE(std::string(error.what()).find("socket_group"), std::string::npos) << error.what();
  }
  EXPECT_FALSE(std::filesystem::exists(path_));
}

}  // namespace
}  // namespace infervisor::supervisor
