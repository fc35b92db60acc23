// One POSIX shared-memory object this process creates for Triton's system shared-memory
// extension: the client fills it with input tensors and the server writes outputs into it, so
// their bytes never cross the socket. Creating, registering and referencing are separate steps:
// this type owns the object and its mapping; Client::register_system_shared_memory tells the
// server about it, and a tensor's RegionRef points into it.
//
// The object is /dev/shm/<prefix>.<pid>.<n> (n counts the objects this process created), made
// with O_CREAT | O_EXCL and mode 0600: it is never an object someone else made or planted, and
// nobody but this uid (and root) can read it. A name that already exists (left by a killed
// process whose pid was reused) is skipped, never opened. The destructor unlinks and unmaps; the
// server keeps its own mapping until the region is unregistered, so unlinking first is safe, but
// unregister before destroying so the server does not hold the memory longer than it must. A
// process killed before the destructor runs leaves its object in /dev/shm.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace infervisor::client {

class SystemRegion {
 public:
  static constexpr std::string_view kDefaultPrefix = "ivcpp";

  // Throws InfervisorError: kInvalidArgument for byte_size 0 or a prefix that is empty, holds
  // '/' or makes the name too long; kSystem (naming the object and errno) when it cannot be
  // created, sized or mapped (nothing is left behind then).
  explicit SystemRegion(std::size_t byte_size, std::string_view prefix = kDefaultPrefix);
  ~SystemRegion();
  SystemRegion(SystemRegion&& other) noexcept;
  SystemRegion& operator=(SystemRegion&& other) noexcept;
  SystemRegion(const SystemRegion&) = delete;
  SystemRegion& operator=(const SystemRegion&) = delete;

  // "/<prefix>.<pid>.<n>": what shm_open and the server's register call take. Empty once moved
  // from.
  const std::string& key() const noexcept { return key_; }
  // The key without its slash: the file's name under /dev/shm, and a region name unique to
  // this process.
  std::string_view object_name() const noexcept;
  std::size_t byte_size() const noexcept { return byte_size_; }
  // The whole mapping, readable and writable; empty once moved from.
  std::span<std::byte> bytes() noexcept { return {data_, byte_size_}; }
  std::span<const std::byte> bytes() const noexcept { return {data_, byte_size_}; }

 private:
  void release() noexcept;

  std::string key_;
  std::byte* data_ = nullptr;
  std::size_t byte_size_ = 0;
};

// Tensors laid out in one region start on this boundary: a cache line, enough for every dtype.
inline constexpr std::size_t kRegionAlignment = 64;

}  // namespace infervisor::client
