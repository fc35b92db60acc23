#include "worker/cuda_handle_cache.hpp"

namespace infervisor::worker {

CudaHandleCache::~CudaHandleCache() {
  if (!close_) return;
  for (auto& [bytes, handle] : handles_)
    close_(handle.memory.base);
}

Result<std::span<std::byte>> CudaHandleCache::map(const shm::RegionRef& region) {
  if (const auto it = tokens_.find(region.token); it != tokens_.end()) {
    const Handle& handle = handles_.at(it->second.handle);
    return std::span<std::byte>(handle.memory.base, it->second.byte_size);
  }
  if (!open_) {
    return make_error(ErrorCode::kSystem, "this worker cannot open CUDA shared memory");
  }
  auto found = handles_.find(region.key);
  if (found == handles_.end()) {
    Opened opened;
    const std::string problem =
        open_(std::as_bytes(std::span(region.key.data(), region.key.size())), opened);
    if (!problem.empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "the CUDA shared memory handle does not open on this worker's GPU: {}",
                        problem);
    }
    found = handles_.emplace(std::string(region.key), Handle{opened, 0}).first;
  }
  Handle& handle = found->second;
  if (region.byte_size > handle.memory.size) {
    const auto size = handle.memory.size;
    if (handle.users == 0) {
      if (close_) close_(handle.memory.base);
      handles_.erase(found);
    }
    return make_error(ErrorCode::kInvalidArgument,
                      "a CUDA shared memory region registered with byte_size {} names a block of "
                      "only {} bytes",
                      region.byte_size, size);
  }
  ++handle.users;
  tokens_.emplace(region.token, Mapped{std::string(region.key), region.byte_size});
  return std::span<std::byte>(handle.memory.base, region.byte_size);
}

void CudaHandleCache::release(std::uint64_t token) noexcept {
  const auto it = tokens_.find(token);
  if (it == tokens_.end()) return;
  const auto handle = handles_.find(it->second.handle);
  tokens_.erase(it);
  if (handle == handles_.end() || --handle->second.users > 0) return;
  if (close_) close_(handle->second.memory.base);
  handles_.erase(handle);
}

}  // namespace infervisor::worker
