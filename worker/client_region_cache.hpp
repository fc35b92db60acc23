// The client shared-memory regions one worker has mapped, by registration token.
//
// The daemon checked the object when the client registered it and sends its device, inode and
// owner with every job; the worker opens the name again (O_NOFOLLOW) and refuses any object that
// is not that one, so a name swapped in between is never read. A region stays mapped (and, on a
// GPU, page-locked, up to kMaxPinnedBytes per worker) until the daemon's RELEASE_REGIONS record
// says no job uses it any more. Each job looks at the object again (one fstat): a region whose
// size changed since it was mapped is mapped afresh, since page-locked pages of a truncated
// object are not the object's any more. (An object truncated and grown back to the same size
// between two jobs is not noticed: its page-locked old pages go on being used.) Mappings are
// watched by bus_guard: a region the client shrinks while a job reads it fails that job instead
// of killing the worker; a worker with every guard slot taken refuses to map more.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <unordered_map>

#include "common/error.hpp"
#include "common/unique_fd.hpp"
#include "shm/frame.hpp"
#include "worker/cuda_handle_cache.hpp"

namespace infervisor::worker {

class ClientRegionCache {
 public:
  // Page-locking more than this would let clients pin the host's memory through the worker;
  // regions beyond it work unpinned (copies to the GPU are then staged by CUDA).
  static constexpr std::uint64_t kMaxPinnedBytes = std::uint64_t{16} << 30;

  // pin: page-locks a new mapping (empty result: done; else why not: the region then works
  // unpinned, only slower). unpin: before it is unmapped.
  using Pin = std::function<std::string(std::span<std::byte>)>;
  using Unpin = std::function<void(std::span<std::byte>)>;

  explicit ClientRegionCache(Pin pin = {}, Unpin unpin = {}, std::string shm_folder = "/dev/shm");
  ~ClientRegionCache();
  ClientRegionCache(const ClientRegionCache&) = delete;
  ClientRegionCache& operator=(const ClientRegionCache&) = delete;

  // Lets this worker open CUDA regions (a GPU worker; on a CPU they are refused).
  void set_cuda(CudaHandleCache::Open open, CudaHandleCache::Close close) {
    cuda_.connect(std::move(open), std::move(close));
  }

  // The registered range of `region`, mapped read-write. Errors: kInvalidArgument when the
  // object is gone, replaced or shrunk (the client's doing), kSystem when this worker cannot
  // open or map it or has no guard slot left (the server's), saying which.
  Result<std::span<std::byte>> map(const shm::RegionRef& region);
  // Unmaps it (a token this worker never mapped is ignored).
  void release(std::uint64_t token) noexcept;
  // True if a SIGBUS hit the region since it was mapped; the mapping is dropped then, so the
  // next job opens the object again (and finds out whether it is still too small).
  bool take_fault(std::uint64_t token) noexcept;

  std::size_t mapped() const noexcept { return mappings_.size(); }

 private:
  struct Mapping {
    UniqueFd fd;  // kept to look at the object again for every job
    void* base = nullptr;
    std::size_t length = 0;
    std::span<std::byte> range;  // the registered bytes inside it
    int guard_slot = -1;
    bool pinned = false;
    off_t size = 0;
  };
  void unmap(Mapping& mapping) noexcept;
  Result<Mapping> open(const shm::RegionRef& region);

  Pin pin_;
  Unpin unpin_;
  std::string shm_folder_;
  std::uint64_t pinned_bytes_ = 0;
  std::unordered_map<std::uint64_t, Mapping> mappings_;
  CudaHandleCache cuda_;
};

}  // namespace infervisor::worker
