// Client shared-memory regions: Triton's system_shared_memory and cuda_shared_memory extensions,
// as the daemon keeps them.
//
// A local client puts tensors in a POSIX shm object of its own and registers a byte range of it
// under a name; requests then refer to the name instead of carrying the bytes, and the worker
// reads inputs from (and writes outputs to) the client's memory. Names are per client uid: one
// uid cannot see, use, shadow or unregister another's (root sees and uses all).
//
// Registration is where a hostile client is stopped (Triton had remote code execution here in
// 2025: a client registered the server's own region). The object is opened with O_NOFOLLOW
// under /dev/shm and must be a regular file owned by the registering uid, large enough for the
// range, and not one of the daemon's own segments. Its device and inode are recorded: the worker
// opens the name again and refuses any other object, so a name swapped in between is never read.
//
// A CUDA region is GPU memory the client exported with cudaIpcGetMemHandle. The daemon never
// touches CUDA, so it checks only the form (a 64-byte handle, a GPU the daemon places workers on)
// and the per-uid limits; the worker that first opens the handle checks that the block is at
// least byte_size long and fails the job with 400 if the handle does not open. System and CUDA
// regions share one namespace of names per uid, as in Triton.
//
// A region lives in a shared_ptr that every job using it holds. Unregistering removes the name
// at once (new requests cannot use it) and answers once the last job using it has finished, so
// a client that reuses its memory after the answer never races a worker; then the workers are
// told to unmap it (`on_released`).
#pragma once

#include <sys/types.h>

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shm/frame.hpp"
#include "supervisor/http_reply.hpp"

namespace infervisor::supervisor {

struct ClientRegion {
  shm::RegionKind kind = shm::RegionKind::kSystem;
  std::string name;
  std::string key;  // "/name" of the POSIX shm object
  std::uint64_t offset = 0;
  std::uint64_t byte_size = 0;
  uid_t owner = 0;
  std::uint64_t token = 0;  // never reused: names the registration towards workers
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  uid_t object_owner = 0;  // st_uid of the object (root may register another uid's)
  // kCuda: the raw cudaIpcMemHandle_t (shm::kCudaIpcHandleBytes) and the GPU's index as the
  // daemon numbers GPUs (DeviceSpec::index); `key` is empty.
  std::string ipc_handle;
  int device_id = -1;

  // What a request frame carries to name the region.
  std::string_view frame_key() const noexcept {
    return kind == shm::RegionKind::kCuda ? std::string_view(ipc_handle) : std::string_view(key);
  }
  std::string_view kind_name() const noexcept;
};

// "CUDA" or "system", for messages.
std::string_view region_kind_name(shm::RegionKind kind) noexcept;

using ClientRegionPtr = std::shared_ptr<const ClientRegion>;

struct ClientRegionLimits {
  std::size_t max_regions_per_uid = 128;
  std::uint64_t max_bytes_per_uid = std::uint64_t{64} << 30;
};

class ClientRegions : public std::enable_shared_from_this<ClientRegions> {
 public:
  using Respond = std::function<void(HttpReply)>;
  // Called on the executor once no job uses a released region any more.
  using Released = std::function<void(std::uint64_t token)>;

  // `segment_prefix`: the daemon's own shm names start with it; no client may register those.
  // `shm_folder`: where POSIX shm objects live (/dev/shm; tests use their own).
  static std::shared_ptr<ClientRegions> create(boost::asio::any_io_executor executor,
                                               ClientRegionLimits limits,
                                               std::string segment_prefix,
                                               std::string shm_folder = "/dev/shm");

  void set_on_released(Released released) { on_released_ = std::move(released); }

  // Throws HttpError: 400 for a bad name, key, range or limit, 403 for another uid's object.
  void register_region(uid_t uid, std::string_view name, std::string_view key, std::uint64_t offset,
                       std::uint64_t byte_size);
  // A CUDA region: `ipc_handle` the raw handle bytes, `device_id` a GPU the caller checked the
  // daemon has. Throws HttpError 400 for a bad name, handle, size or limit.
  void register_cuda_region(uid_t uid, std::string_view name, std::string_view ipc_handle,
                            int device_id, std::uint64_t byte_size);
  // Unregisters `name` (or every region of `uid`) of `kind`; `respond` gets 200 once no job uses
  // them. Throws HttpError 400 when `name` is not registered as a region of that kind.
  void unregister(uid_t uid, shm::RegionKind kind, std::optional<std::string_view> name,
                  Respond respond);
  // The regions of `kind` that `uid` sees (all of them for root), by name. Throws 400 for an
  // unknown `name`.
  std::vector<ClientRegionPtr> status(uid_t uid, shm::RegionKind kind,
                                      std::optional<std::string_view> name) const;
  // The region a request of `uid` means by `name`, or an HttpError 400 that names it.
  ClientRegionPtr find(uid_t uid, std::string_view name) const;
  // The same, and 400 unless it is a region of `kind`.
  ClientRegionPtr find(uid_t uid, std::string_view name, shm::RegionKind kind) const;

  // For tests: how many registrations are unregistered but still used by jobs.
  std::size_t retiring() const noexcept { return retiring_; }

 private:
  ClientRegions(boost::asio::any_io_executor executor, ClientRegionLimits limits,
                std::string segment_prefix, std::string shm_folder);
  void released(std::uint64_t token);
  // The checks every registration makes before its kind's own: name, no duplicate, the limits.
  void check_new_region(uid_t uid, std::string_view name, std::uint64_t byte_size,
                        bool counts_bytes) const;
  void add(std::unique_ptr<ClientRegion> region);
  // find(), and with `kind` set only regions of that kind count (root's lookup across uids).
  ClientRegionPtr find_any(uid_t uid, std::string_view name,
                           std::optional<shm::RegionKind> kind) const;

  struct Retiring {
    std::size_t pending = 0;  // regions of this unregister call still used by jobs
    Respond respond;
  };

  boost::asio::any_io_executor executor_;
  ClientRegionLimits limits_;
  std::string segment_prefix_;
  std::string shm_folder_;
  Released on_released_;
  std::uint64_t next_token_ = 1;
  std::map<std::pair<uid_t, std::string>, ClientRegionPtr, std::less<>> regions_;
  // token -> the unregister call waiting for it
  std::map<std::uint64_t, std::shared_ptr<Retiring>> waiting_;
  std::size_t retiring_ = 0;
};

}  // namespace infervisor::supervisor
