#include "client/shared_memory_region.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <utility>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace infervisor::client {
namespace {

// Names already taken are skipped; this many in a row means something else is wrong.
constexpr int kMaxNameAttempts = 64;
// Room the pid and counter need in a name of at most NAME_MAX bytes: ".", 10 digits, ".", 20.
constexpr std::size_t kMaxPrefix = NAME_MAX - 32;

std::atomic<std::uint64_t> next_object_number{0};

[[noreturn]] void fail(std::string_view what) {
  throw InfervisorError(system_error(what));
}

// Creates a fresh object under the next free name of this process; returns its fd and key.
std::pair<UniqueFd, std::string> create_object(std::string_view prefix) {
  const auto pid = static_cast<long>(::getpid());
  for (int attempt = 0; attempt < kMaxNameAttempts; ++attempt) {
    auto key = fmt::format("/{}.{}.{}", prefix, pid, next_object_number++);
    // glibc adds O_NOFOLLOW and O_CLOEXEC; O_EXCL refuses any existing object, link or not.
    UniqueFd fd(::shm_open(key.c_str(), O_RDWR | O_CREAT | O_EXCL, S_IRUSR | S_IWUSR));
    if (fd) return {std::move(fd), std::move(key)};
    if (errno != EEXIST) fail(fmt::format("cannot create shared-memory object {}", key));
  }
  throw InfervisorError(
      ErrorCode::kSystem,
      fmt::format("cannot create a shared-memory object /{}.{}.*: {} names in a row already exist",
                  prefix, pid, kMaxNameAttempts));
}

}  // namespace

SystemRegion::SystemRegion(std::size_t byte_size, std::string_view prefix) {
  if (byte_size == 0) {
    throw InfervisorError(ErrorCode::kInvalidArgument,
                          "a shared-memory region needs at least 1 byte, not 0");
  }
  if (prefix.empty() || prefix.find('/') != std::string_view::npos ||
      prefix.find('\0') != std::string_view::npos || prefix.size() > kMaxPrefix) {
    throw InfervisorError(ErrorCode::kInvalidArgument,
                          fmt::format("shared-memory prefix '{}' must be a non-empty file name of "
                                      "at most {} bytes without '/'",
                                      prefix, kMaxPrefix));
  }
  auto [fd, key] = create_object(prefix);
  // From here on a failure must not leave the object behind.
  const auto unlink_and_fail = [&](std::string_view what) {
    const auto error = system_error(
        fmt::format("cannot {} shared-memory object {} ({} bytes)", what, key, byte_size));
    ::shm_unlink(key.c_str());
    throw InfervisorError(error);
  };
  if (::fchmod(fd.get(), S_IRUSR | S_IWUSR) != 0) unlink_and_fail("set the mode of");  // umask
  if (::ftruncate(fd.get(), static_cast<off_t>(byte_size)) != 0) unlink_and_fail("size");
  void* data = ::mmap(nullptr, byte_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (data == MAP_FAILED) unlink_and_fail("map");
  key_ = std::move(key);
  data_ = static_cast<std::byte*>(data);
  byte_size_ = byte_size;
}

SystemRegion::~SystemRegion() {
  release();
}

SystemRegion::SystemRegion(SystemRegion&& other) noexcept
    : key_(std::exchange(other.key_, {})),
      data_(std::exchange(other.data_, nullptr)),
      byte_size_(std::exchange(other.byte_size_, 0)) {}

SystemRegion& SystemRegion::operator=(SystemRegion&& other) noexcept {
  if (this != &other) {
    release();
    key_ = std::exchange(other.key_, {});
    data_ = std::exchange(other.data_, nullptr);
    byte_size_ = std::exchange(other.byte_size_, 0);
  }
  return *this;
}

std::string_view SystemRegion::object_name() const noexcept {
  return key_.empty() ? std::string_view{} : std::string_view(key_).substr(1);
}

void SystemRegion::release() noexcept {
  if (data_ != nullptr) ::munmap(data_, byte_size_);
  if (!key_.empty()) ::shm_unlink(key_.c_str());
  key_.clear();
  data_ = nullptr;
  byte_size_ = 0;
}

}  // namespace infervisor::client
