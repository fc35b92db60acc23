// The client shared-memory regions one worker has mapped, by registration token.
//
// The daemon checked the object when the client registered it and sends its device and inode
// with every job; the worker opens the name again (O_NOFOLLOW) and refuses any object that is
// not that one, so a name swapped in between is never read. A region stays mapped (and, on a
// GPU, page-locked) until the daemon's RELEASE_REGIONS record says no job uses it any more.
// Mappings are watched by bus_guard: a region the client shrank fails its job instead of
// killing the worker.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <unordered_map>

#include "common/error.hpp"
#include "shm/frame.hpp"

namespace infervisor::worker {

class ClientRegionCache {
 public:
  // pin: page-locks a new mapping (empty result: done; else why not: the region then works
  // unpinned, only slower). unpin: before it is unmapped.
  using Pin = std::function<std::string(std::span<std::byte>)>;
  using Unpin = std::function<void(std::span<std::byte>)>;

  explicit ClientRegionCache(Pin pin = {}, Unpin unpin = {}, std::string shm_folder = "/dev/shm");
  ~ClientRegionCache();
  ClientRegionCache(const ClientRegionCache&) = delete;
  ClientRegionCache& operator=(const ClientRegionCache&) = delete;

  // The registered range of `region`, mapped read-write (once per token). kInvalidArgument when
  // the object is gone, replaced, shrunk or cannot be mapped, saying which.
  Result<std::span<std::byte>> map(const shm::RegionRef& region);
  // Unmaps it (a token this worker never mapped is ignored).
  void release(std::uint64_t token) noexcept;
  // True if a SIGBUS hit the region since it was mapped; the mapping is dropped then, so the
  // next job opens the object again (and finds out whether it is still too small).
  bool take_fault(std::uint64_t token) noexcept;

  std::size_t mapped() const noexcept { return mappings_.size(); }

 private:
  struct Mapping {
    void* base = nullptr;
    std::size_t length = 0;
    std::span<std::byte> range;  // the registered bytes inside it
    int guard_slot = -1;
    bool pinned = false;
  };
  void unmap(Mapping& mapping) noexcept;

  Pin pin_;
  Unpin unpin_;
  std::string shm_folder_;
  std::unordered_map<std::uint64_t, Mapping> mappings_;
};

}  // namespace infervisor::worker
