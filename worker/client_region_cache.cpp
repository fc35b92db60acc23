#include "worker/client_region_cache.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "worker/bus_guard.hpp"

namespace infervisor::worker {
namespace {

// "/name" with no other '/', no NUL, not "/." or "/..": what the daemon accepted.
bool posix_name(std::string_view key) noexcept {
  return key.size() >= 2 && key[0] == '/' && key.find('/', 1) == std::string_view::npos &&
         key.find('\0') == std::string_view::npos && key != "/." && key != "/..";
}

}  // namespace

ClientRegionCache::ClientRegionCache(Pin pin, Unpin unpin, std::string shm_folder)
    : pin_(std::move(pin)), unpin_(std::move(unpin)), shm_folder_(std::move(shm_folder)) {
  bus_guard::install();
}

ClientRegionCache::~ClientRegionCache() {
  for (auto& [token, mapping] : mappings_)
    unmap(mapping);
}

Result<std::span<std::byte>> ClientRegionCache::map(const shm::RegionRef& region) {
  if (region.kind == shm::RegionKind::kCuda) return cuda_.map(region);
  if (const auto it = mappings_.find(region.token); it != mappings_.end()) {
    struct stat st {};
    // (Not st_ctim: writes through the mapping, the worker's own outputs included, move it,
    // and mapping and page-locking afresh per job cost more than the job's copies.)
    const bool unchanged = !bus_guard::faulted(it->second.guard_slot) &&
                           ::fstat(it->second.fd.get(), &st) == 0 && st.st_size == it->second.size;
    if (unchanged) return it->second.range;
    release(region.token);  // resized since: map what is there now
  }
  auto opened = open(region);
  if (!opened) return opened.error();
  return mappings_.emplace(region.token, std::move(*opened)).first->second.range;
}

Result<ClientRegionCache::Mapping> ClientRegionCache::open(const shm::RegionRef& region) {
  if (!posix_name(region.key)) {
    return make_error(ErrorCode::kSystem, "shared memory key '{}' is not a POSIX name", region.key);
  }
  const std::string path = shm_folder_ + "/" + std::string(region.key.substr(1));
  Mapping mapping;
  mapping.fd = UniqueFd(::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!mapping.fd) {
    const int error = errno;
    return make_error(error == ENOENT ? ErrorCode::kInvalidArgument : ErrorCode::kSystem,
                      "the worker cannot open shared memory object '{}': {}", region.key,
                      std::strerror(error));
  }
  struct stat st {};
  if (::fstat(mapping.fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<std::uint64_t>(st.st_dev) != region.device ||
      static_cast<std::uint64_t>(st.st_ino) != region.inode || st.st_uid != region.owner) {
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
  void* base = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, mapping.fd.get(),
                      static_cast<off_t>(start));
  if (base == MAP_FAILED) {
    return make_error(ErrorCode::kSystem, "cannot map {} bytes of '{}': {}", length, region.key,
                      std::strerror(errno));
  }
  const std::span whole(static_cast<std::byte*>(base), length);
  mapping.guard_slot = bus_guard::watch(whole);
  if (mapping.guard_slot < 0) {
    // Unguarded, a client shrinking it would kill the worker: refuse instead.
    ::munmap(base, length);
    return make_error(ErrorCode::kSystem,
                      "this worker has {} client regions mapped, as many as it can guard; "
                      "unregister regions no longer used",
                      bus_guard::kMaxWatched);
  }
  mapping.base = base;
  mapping.length = length;
  mapping.range = whole.subspan(lead, region.byte_size);
  mapping.size = st.st_size;
  if (pin_ && pinned_bytes_ + length <= kMaxPinnedBytes) {
    const auto problem = pin_(whole);
    mapping.pinned = problem.empty();
    if (mapping.pinned)
      pinned_bytes_ += length;
    else
      spdlog::warn("shared memory object '{}' is not page-locked: {}", region.key, problem);
  }
  return mapping;
}

void ClientRegionCache::unmap(Mapping& mapping) noexcept {
  if (mapping.pinned) {
    if (unpin_) unpin_(std::span(static_cast<std::byte*>(mapping.base), mapping.length));
    pinned_bytes_ -= mapping.length;
  }
  bus_guard::unwatch(mapping.guard_slot);
  ::munmap(mapping.base, mapping.length);
}

void ClientRegionCache::release(std::uint64_t token) noexcept {
  cuda_.release(token);
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
