// The CUDA shared-memory regions one worker has opened, by registration token.
//
// A client registers GPU memory as a cudaIpcMemHandle_t, which names the base of one of its
// cudaMalloc blocks; several regions (a torch client's tensors in one cached block) may carry the
// same handle. CUDA lets a process open a handle only once, so handles are opened once and
// shared, and closed when the last registration using them is released (the daemon's
// RELEASE_REGIONS record, sent once no job uses the region). The first job to use a region checks
// that its registered byte_size fits the block; the daemon cannot, as it never touches CUDA.
//
// Torch-free: the opening is injected (ModelRunner::open_ipc_memory in the worker, a fake in the
// tests).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <unordered_map>

#include "common/error.hpp"
#include "shm/frame.hpp"

namespace infervisor::worker {

class CudaHandleCache {
 public:
  struct Opened {
    std::byte* base = nullptr;
    std::uint64_t size = 0;  // of the block, from base
  };
  // Opens a handle: empty on success, else why not.
  using Open = std::function<std::string(std::span<const std::byte> handle, Opened& opened)>;
  using Close = std::function<void(std::byte* base)>;

  CudaHandleCache() = default;  // refuses every handle until connect()
  CudaHandleCache(Open open, Close close) { connect(std::move(open), std::move(close)); }
  ~CudaHandleCache();
  // Sets how handles are opened; call before the first map().
  void connect(Open open, Close close) {
    open_ = std::move(open);
    close_ = std::move(close);
  }
  CudaHandleCache(const CudaHandleCache&) = delete;
  CudaHandleCache& operator=(const CudaHandleCache&) = delete;

  // The region's registered bytes, in GPU memory. Errors: kInvalidArgument when the handle does
  // not open or its block is smaller than the registered size (the client's doing), kSystem when
  // this worker cannot open CUDA memory at all.
  Result<std::span<std::byte>> map(const shm::RegionRef& region);
  // Lets go of the token's handle (a token never mapped is ignored); the last user closes it.
  void release(std::uint64_t token) noexcept;

  std::size_t open_handles() const noexcept { return handles_.size(); }

 private:
  struct Handle {
    Opened memory;
    std::size_t users = 0;
  };
  struct Mapped {
    std::string handle;
    std::uint64_t byte_size = 0;
  };

  Open open_;
  Close close_;
  std::map<std::string, Handle, std::less<>> handles_;  // by the handle's bytes
  std::unordered_map<std::uint64_t, Mapped> tokens_;
};

}  // namespace infervisor::worker
