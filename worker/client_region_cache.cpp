#include "worker/client_region_cache.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/unique_fd.hpp"
#include "worker/bus_guard.hpp"

namespace infervisor::worker {

ClientRegionCache::ClientRegionCache(Pin pin, Unpin unpin, std::string shm_folder)
    : pin_(std::move(pin)), unpin_(std::move(unpin)), shm_folder_(std::move(shm_folder)) {
  bus_guard::install();
}

ClientRegionCache::~ClientRegionCache() {
  for (auto& [token, mapping] : mappings_)
    unmap(mapping);
}

Result<std::span<std::byte>> ClientRegionCache::map(const shm::RegionRef& region) {
  if (const auto it = mappings_.find(region.token); it != mappings_.end()) return it->second.range;
  if (region.key.size() < 2 || region.key[0] != '/' ||
      region.key.find('/', 1) != std::string_view::npos) {
    return make_error(ErrorCode::kInvalidArgument, "shared memory key '{}' is not a POSIX name",
                      region.key);
  }
  const std::string path = shm_folder_ + "/" + std::string(region.key.substr(1));
  const UniqueFd fd(::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the worker cannot open shared memory object '{}': {}", region.key,
                      std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<std::uint64_t>(st.st_dev) != region.device ||
      static_cast<std::uint64_t>(st.st_ino) != region.inode) {
    return make_error(ErrorCode::kInvalidArgument,
                      "shared memory object '{}' is not the one that was registered (it was "
                      "removed or replaced since): register it again",
                      region.key);
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (region.object_offset > size || region.byte_size > size - region.object_offset) {
    return make_error(ErrorCode::kInvalidArgument,
                      "shared memory object '{}' has {} bytes, less than its registered range "
                      "[{}, +{}): it was shrunk",
                      region.key, size, region.object_offset, region.byte_size);
  }
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const std::uint64_t start = region.object_offset / page * page;
  const std::uint64_t lead = region.object_offset - start;
  const std::uint64_t length = lead + region.byte_size;
  void* base = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(),
                      static_cast<off_t>(start));
  if (base == MAP_FAILED) {
    return make_error(ErrorCode::kInvalidArgument, "cannot map {} bytes of '{}': {}", length,
                      region.key, std::strerror(errno));
  }
  Mapping mapping;
  mapping.base = base;
  mapping.length = length;
  mapping.range = std::span(static_cast<std::byte*>(base) + lead, region.byte_size);
  mapping.guard_slot = bus_guard::watch(std::span(static_cast<std::byte*>(base), length));
  if (mapping.guard_slot < 0) {
    spdlog::warn(
        "shared memory object '{}': more than {} regions mapped; this one is not guarded "
        "against being shrunk",
        region.key, bus_guard::kMaxWatched);
  }
  if (pin_) {
    const auto problem = pin_(std::span(static_cast<std::byte*>(base), length));
    mapping.pinned = problem.empty();
    if (!problem.empty())
      spdlog::warn("shared memory object '{}' is not page-locked: {}", region.key, problem);
  }
  return mappings_.emplace(region.token, mapping).first->second.range;
}

void ClientRegionCache::unmap(Mapping& mapping) noexcept {
  if (mapping.pinned && unpin_)
    unpin_(std::span(static_cast<std::byte*>(mapping.base), mapping.length));
  bus_guard::unwatch(mapping.guard_slot);
  ::munmap(mapping.base, mapping.length);
}

void ClientRegionCache::release(std::uint64_t token) noexcept {
  const auto it = mappings_.find(token);
  if (it == mappings_.end()) return;
  unmap(it->second);
  mappings_.erase(it);
}

bool ClientRegionCache::take_fault(std::uint64_t token) noexcept {
  const auto it = mappings_.find(token);
  if (it == mappings_.end() || !bus_guard::faulted(it->second.guard_slot)) return false;
  release(token);
  return true;
}

}  // namespace infervisor::worker
