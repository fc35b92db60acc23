#include "supervisor/client_regions.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>

#include "common/unique_fd.hpp"

namespace infervisor::supervisor {
namespace {

constexpr std::size_t kMaxRegionNameBytes = 128;
constexpr std::size_t kMaxKeyBytes = 255;  // NAME_MAX, with the leading slash

bool safe_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

void check_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxRegionNameBytes) {
    fail_request(400, "a region name must be 1-{} bytes", kMaxRegionNameBytes);
  }
  for (const char c : name) {
    if (!safe_name_char(c))
      fail_request(400, "a region name may hold only letters, digits, '_', '-' and '.'");
  }
}

// "/name": one leading slash and no other, as shm_open(3) takes it portably.
void check_key(std::string_view key, std::string_view segment_prefix) {
  if (key.size() < 2 || key.size() > kMaxKeyBytes || key[0] != '/' ||
      key.find('/', 1) != std::string_view::npos || key == "/." || key == "/..") {
    fail_request(400,
                 "key must be a POSIX shared memory name: '/' and 1-{} more bytes without a '/'",
                 kMaxKeyBytes - 1);
  }
  for (const char c : key) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      fail_request(400, "key must not hold control characters");
  }
  if (!segment_prefix.empty() && key.substr(1).starts_with(segment_prefix)) {
    fail_request(403, "key '{}' names one of infervisord's own segments (prefix '{}')", key,
                 segment_prefix);
  }
}

std::uint64_t bytes_of(
    const std::map<std::pair<uid_t, std::string>, ClientRegionPtr, std::less<>>& regions, uid_t uid,
    std::size_t& count) {
  std::uint64_t bytes = 0;
  count = 0;
  for (const auto& [owner_and_name, region] : regions) {
    if (owner_and_name.first != uid) continue;
    // Only host mappings count: a CUDA region maps GPU memory its client already holds.
    if (region->kind == shm::RegionKind::kSystem) bytes += region->byte_size;
    ++count;
  }
  return bytes;
}

}  // namespace

std::shared_ptr<ClientRegions> ClientRegions::create(boost::asio::any_io_executor executor,
                                                     ClientRegionLimits limits,
                                                     std::string segment_prefix,
                                                     std::string shm_folder) {
  return std::shared_ptr<ClientRegions>(new ClientRegions(
      std::move(executor), limits, std::move(segment_prefix), std::move(shm_folder)));
}

ClientRegions::ClientRegions(boost::asio::any_io_executor executor, ClientRegionLimits limits,
                             std::string segment_prefix, std::string shm_folder)
    : executor_(std::move(executor)),
      limits_(limits),
      segment_prefix_(std::move(segment_prefix)),
      shm_folder_(std::move(shm_folder)) {}

void ClientRegions::check_new_region(uid_t uid, std::string_view name, std::uint64_t byte_size,
                                     bool counts_bytes) const {
  check_name(name);
  if (byte_size == 0) fail_request(400, "region '{}' byte_size must be positive", name);
  if (const auto it = regions_.find(std::pair<uid_t, std::string>(uid, name));
      it != regions_.end()) {
    fail_request(400, "region '{}' is already registered as a {} region (unregister it first)",
                 name, it->second->kind_name());
  }
  std::size_t count = 0;
  const auto bytes = bytes_of(regions_, uid, count);
  if (count >= limits_.max_regions_per_uid) {
    fail_request(400,
                 "uid {} has {} regions registered, the most client_shared_memory_max_regions "
                 "allows",
                 uid, count);
  }
  if (counts_bytes &&
      (byte_size > limits_.max_bytes_per_uid || bytes > limits_.max_bytes_per_uid - byte_size)) {
    fail_request(400,
                 "region '{}' of {} bytes would bring uid {} to {} registered bytes; "
                 "client_shared_memory_max_bytes allows {}",
                 name, byte_size, uid, bytes + byte_size, limits_.max_bytes_per_uid);
  }
}

void ClientRegions::register_region(uid_t uid, std::string_view name, std::string_view key,
                                    std::uint64_t offset, std::uint64_t byte_size) {
  check_key(key, segment_prefix_);
  check_new_region(uid, name, byte_size, /*counts_bytes=*/true);
  const std::string path = shm_folder_ + "/" + std::string(key.substr(1));
  // O_NOFOLLOW: a symbolic link planted under the name must not lead to a file of the daemon's.
  // O_NONBLOCK: a FIFO planted there must not block the event loop (it fails S_ISREG below).
  const UniqueFd fd(::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd) {
    const int error = errno;
    if (error == ELOOP) fail_request(400, "key '{}' is a symbolic link", key);
    if (error == ENOENT) fail_request(400, "no POSIX shared memory object '{}'", key);
    if (error == EACCES) {
      fail_request(403, "infervisord (uid {}) may not open '{}' for reading and writing",
                   ::getuid(), key);
    }
    fail_request(400, "cannot open '{}': {}", key, std::strerror(error));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    fail_request(400, "cannot stat '{}': {}", key, std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail_request(400, "'{}' is not a shared memory object", key);
  // A second name for an object (a hard link) could be one of the daemon's own segments.
  if (st.st_nlink != 1) fail_request(403, "'{}' has {} names (hard links)", key, st.st_nlink);
  if (uid != 0 && st.st_uid != uid) {
    fail_request(403, "'{}' belongs to uid {}, not to the registering uid {}", key, st.st_uid, uid);
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (offset > size || byte_size > size - offset) {
    fail_request(400, "region '{}' [{}, +{}) does not fit '{}', which has {} bytes", name, offset,
                 byte_size, key, size);
  }

  auto region = std::make_unique<ClientRegion>();
  region->name = std::string(name);
  region->key = std::string(key);
  region->offset = offset;
  region->byte_size = byte_size;
  region->owner = uid;
  region->token = next_token_++;
  region->device = static_cast<std::uint64_t>(st.st_dev);
  region->inode = static_cast<std::uint64_t>(st.st_ino);
  region->object_owner = st.st_uid;
  add(std::move(region));
}

void ClientRegions::register_cuda_region(uid_t uid, std::string_view name,
                                         std::string_view ipc_handle, int device_id,
                                         std::uint64_t byte_size) {
  check_new_region(uid, name, byte_size, /*counts_bytes=*/false);
  if (ipc_handle.size() != shm::kCudaIpcHandleBytes) {
    fail_request(400, "region '{}' raw_handle has {} bytes; a cudaIpcMemHandle_t has {}", name,
                 ipc_handle.size(), shm::kCudaIpcHandleBytes);
  }
  auto region = std::make_unique<ClientRegion>();
  region->kind = shm::RegionKind::kCuda;
  region->name = std::string(name);
  region->byte_size = byte_size;
  region->owner = uid;
  region->object_owner = uid;
  region->token = next_token_++;
  region->ipc_handle = std::string(ipc_handle);
  region->device_id = device_id;
  add(std::move(region));
}

void ClientRegions::add(std::unique_ptr<ClientRegion> region) {
  const std::pair<uid_t, std::string> key(region->owner, region->name);
  // The last holder (the registry or a job) lets go on the daemon's thread, maybe deep inside a
  // job's completion: the release runs later, from the executor.
  ClientRegionPtr shared(region.release(),
                         [weak = weak_from_this(), executor = executor_](const ClientRegion* gone) {
                           const std::uint64_t released_token = gone->token;
                           delete gone;
                           boost::asio::post(executor, [weak, released_token] {
                             if (const auto self = weak.lock()) self->released(released_token);
                           });
                         });
  regions_.emplace(key, std::move(shared));
}

void ClientRegions::unregister(uid_t uid, shm::RegionKind kind,
                               std::optional<std::string_view> name, Respond respond) {
  std::vector<ClientRegionPtr> removed;
  if (name) {
    // Root may unregister any uid's region by its name when the name is not ambiguous.
    const ClientRegionPtr found = find(uid, *name, kind);
    const auto it = regions_.find(std::pair<uid_t, std::string>(found->owner, *name));
    removed.push_back(std::move(it->second));
    regions_.erase(it);
  } else {
    for (auto it = regions_.begin(); it != regions_.end();) {
      if (it->first.first == uid && it->second->kind == kind) {
        removed.push_back(std::move(it->second));
        it = regions_.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (removed.empty()) {
    respond(HttpReply{200, "application/json", "{}", {}, {}});
    return;
  }
  auto retiring = std::make_shared<Retiring>();
  retiring->pending = removed.size();
  retiring->respond = std::move(respond);
  for (const auto& region : removed) {
    waiting_.emplace(region->token, retiring);
    ++retiring_;
  }
  // `removed` lets go here; regions no job holds are released from the executor.
}

void ClientRegions::released(std::uint64_t token) {
  if (on_released_) on_released_(token);
  const auto it = waiting_.find(token);
  if (it == waiting_.end()) return;  // the registry itself was the last holder at shutdown
  const auto retiring = std::move(it->second);
  waiting_.erase(it);
  --retiring_;
  if (--retiring->pending == 0 && retiring->respond) {
    retiring->respond(HttpReply{200, "application/json", "{}", {}, {}});
  }
}

std::vector<ClientRegionPtr> ClientRegions::status(uid_t uid, shm::RegionKind kind,
                                                   std::optional<std::string_view> name) const {
  std::vector<ClientRegionPtr> out;
  if (name) {
    out.push_back(find(uid, *name, kind));
    return out;
  }
  for (const auto& [owner_and_name, region] : regions_) {
    if ((uid == 0 || owner_and_name.first == uid) && region->kind == kind) out.push_back(region);
  }
  return out;
}

ClientRegionPtr ClientRegions::find(uid_t uid, std::string_view name) const {
  return find_any(uid, name, std::nullopt);
}

ClientRegionPtr ClientRegions::find(uid_t uid, std::string_view name, shm::RegionKind kind) const {
  ClientRegionPtr found = find_any(uid, name, kind);
  if (found->kind != kind) {
    fail_request(400, "'{}' is a {} shared memory region, not a {} one", name, found->kind_name(),
                 region_kind_name(kind));
  }
  return found;
}

ClientRegionPtr ClientRegions::find_any(uid_t uid, std::string_view name,
                                        std::optional<shm::RegionKind> kind) const {
  if (const auto it = regions_.find(std::pair<uid_t, std::string>(uid, name)); it != regions_.end())
    return it->second;
  if (uid == 0) {
    // Root uses any uid's region by its name when the name is not ambiguous.
    ClientRegionPtr found;
    for (const auto& [owner_and_name, region] : regions_) {
      if (owner_and_name.second != name || (kind && region->kind != *kind)) continue;
      if (found) fail_request(400, "region name '{}' is registered by several uids", name);
      found = region;
    }
    if (found) return found;
  }
  fail_request(400, "no shared memory region '{}' is registered", name);
}

std::string_view ClientRegion::kind_name() const noexcept {
  return region_kind_name(kind);
}

std::string_view region_kind_name(shm::RegionKind kind) noexcept {
  return kind == shm::RegionKind::kCuda ? "CUDA" : "system";
}

}  // namespace infervisor::supervisor
