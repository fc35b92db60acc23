// The CUDA device: each thread's jobs go on a stream of its own from libtorch's pool, timed by
// CUDA events recorded between the stages; the ring mapping is page-locked with cudaHostRegister
// so that input and output copies are asynchronous DMA straight from and into the records.
// Built only when libtorch has CUDA (see CMakeLists.txt); the CPU tests never compile it.
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "worker/device_backend.hpp"

namespace infervisor::worker {
namespace {

std::string cuda_problem(const char* what, cudaError_t error) {
  return std::string(what) + ": " + cudaGetErrorName(error) + " (" + cudaGetErrorString(error) +
         ")";
}

std::string mib(std::size_t bytes) {
  return std::to_string(bytes >> 20);
}

// The runtime API says nothing of an allocation's size, and a client's handle names a whole
// cudaMalloc block, so the registered byte_size is checked against the driver's
// cuMemGetAddressRange. The driver library is always loaded where CUDA runs; looking it up at
// run time spares the build the driver API's headers and link (the pip wheels ship neither).
using GetAddressRange = int (*)(unsigned long long* base, std::size_t* size,
                                unsigned long long address);

GetAddressRange address_range_function() {
  static const GetAddressRange function = [] {
    void* library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
    if (library == nullptr) library = dlopen("libcuda.so.1", RTLD_NOW);
    return library == nullptr
               ? nullptr
               : reinterpret_cast<GetAddressRange>(dlsym(library, "cuMemGetAddressRange_v2"));
  }();
  return function;
}

class CudaLane final : public DeviceLane {
 public:
  explicit CudaLane(int device)
      : stream_(c10::cuda::getStreamFromPool(/*isHighPriority=*/false,
                                             static_cast<c10::DeviceIndex>(device))) {
    for (auto& event : events_) {
      const cudaError_t error = cudaEventCreateWithFlags(&event, cudaEventDefault);
      if (error != cudaSuccess) throw std::runtime_error(cuda_problem("cudaEventCreate", error));
    }
  }
  ~CudaLane() override {
    for (auto event : events_) {
      if (event != nullptr) cudaEventDestroy(event);
    }
  }
  CudaLane(const CudaLane&) = delete;
  CudaLane& operator=(const CudaLane&) = delete;

  std::optional<c10::Stream> stream() const override { return stream_.unwrap(); }
  void begin() override {
    record(0);
    ended_ = 0;
  }
  void end(Stage stage) override {
    const auto index = static_cast<std::size_t>(stage) + 1;
    record(index);
    ended_ = index;
  }
  void synchronize() override {
    const cudaError_t error = cudaStreamSynchronize(stream_.stream());
    if (error != cudaSuccess) {
      throw std::runtime_error("CUDA error: " + std::string(cudaGetErrorString(error)) + " (" +
                               cudaGetErrorName(error) + ", at the job's synchronize)");
    }
  }
  StageDurations durations() const override {
    auto between = [&](std::size_t from) -> std::uint64_t {
      if (from + 1 > ended_) return 0;
      float ms = 0;
      if (cudaEventElapsedTime(&ms, events_[from], events_[from + 1]) != cudaSuccess) {
        (void)cudaGetLastError();  // not recorded on this job: not a device fault
        return 0;
      }
      return ms > 0 ? static_cast<std::uint64_t>(static_cast<double>(ms) * 1e6) : 0;
    };
    return {between(0), between(1), between(2)};
  }

 private:
  void record(std::size_t index) {
    const cudaError_t error = cudaEventRecord(events_[index], stream_.stream());
    if (error != cudaSuccess) throw std::runtime_error(cuda_problem("cudaEventRecord", error));
  }

  c10::cuda::CUDAStream stream_;
  std::array<cudaEvent_t, 4> events_{};  // begin, then the end of each stage
  std::size_t ended_ = 0;                // the last mark recorded for the current job
};

class CudaBackend final : public DeviceBackend {
 public:
  explicit CudaBackend(int device) : device_(device) {}
  ~CudaBackend() override {
    for (void* address : pinned_)
      cudaHostUnregister(address);
  }

  std::unique_ptr<DeviceLane> make_lane() override { return std::make_unique<CudaLane>(device_); }

  std::string pin(std::span<std::byte> memory) override {
    if (memory.empty()) return {};
    const cudaError_t error =
        cudaHostRegister(memory.data(), memory.size(), cudaHostRegisterDefault);
    if (error != cudaSuccess) {
      (void)cudaGetLastError();
      return cuda_problem("cudaHostRegister", error);
    }
    pinned_.push_back(memory.data());
    return {};
  }

  void unpin(std::span<std::byte> memory) override {
    const auto it = std::find(pinned_.begin(), pinned_.end(), memory.data());
    if (it == pinned_.end()) return;
    if (cudaHostUnregister(memory.data()) != cudaSuccess) (void)cudaGetLastError();
    pinned_.erase(it);
  }

  std::string open_ipc(std::span<const std::byte> handle, std::byte** base,
                       std::uint64_t* size) override {
    cudaIpcMemHandle_t ipc{};
    if (handle.size() != sizeof(ipc)) {
      return "a CUDA IPC handle has " + std::to_string(sizeof(ipc)) + " bytes, not " +
             std::to_string(handle.size());
    }
    std::memcpy(&ipc, handle.data(), sizeof(ipc));
    const GetAddressRange address_range = address_range_function();
    if (address_range == nullptr) {
      return "cannot find cuMemGetAddressRange_v2 in libcuda.so.1 to check the block's size";
    }
    void* opened = nullptr;
    cudaError_t error = cudaSetDevice(device_);
    if (error == cudaSuccess)
      error = cudaIpcOpenMemHandle(&opened, ipc, cudaIpcMemLazyEnablePeerAccess);
    if (error != cudaSuccess) {
      (void)cudaGetLastError();  // a handle that does not open is not a device fault
      return cuda_problem("cudaIpcOpenMemHandle", error) +
             "; is it a live cudaMalloc block of a process on this GPU?";
    }
    // A block on another GPU could open over peer access, and the job would then run on the
    // wrong GPU's bytes at peer speed: the daemon's placement by device_id must hold.
    cudaPointerAttributes attributes{};
    if (cudaPointerGetAttributes(&attributes, opened) != cudaSuccess ||
        attributes.device != device_) {
      (void)cudaGetLastError();
      cudaIpcCloseMemHandle(opened);
      (void)cudaGetLastError();
      return "the handle's memory is not on this worker's GPU (is device_id right?)";
    }
    unsigned long long range_base = 0;
    std::size_t range_size = 0;
    const int result =
        address_range(&range_base, &range_size, reinterpret_cast<unsigned long long>(opened));
    if (result != 0) {
      cudaIpcCloseMemHandle(opened);
      (void)cudaGetLastError();
      return "cuMemGetAddressRange failed with CUresult " + std::to_string(result);
    }
    // The handle names the block's base; anything else would make offsets mean other bytes.
    const auto end = range_base + range_size;
    const auto at = reinterpret_cast<unsigned long long>(opened);
    *base = static_cast<std::byte*>(opened);
    *size = at >= range_base && at < end ? end - at : 0;
    return {};
  }

  void close_ipc(std::byte* base) override {
    if (cudaIpcCloseMemHandle(base) != cudaSuccess) (void)cudaGetLastError();
  }

  void release_cached_memory() override { c10::cuda::CUDACachingAllocator::emptyCache(); }

  std::uint64_t memory_bytes() override {
    try {
      const auto stats =
          c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(device_));
      return static_cast<std::uint64_t>(stats.reserved_bytes[0].current);  // [0]: every pool
    } catch (const std::exception&) {
      return 0;
    }
  }

  std::string describe() override {
    cudaDeviceProp properties{};
    if (cudaGetDeviceProperties(&properties, device_) != cudaSuccess) {
      (void)cudaGetLastError();
      return "cuda:" + std::to_string(device_) + " (no properties)";
    }
    static const char* kHex = "0123456789abcdef";
    std::string uuid = "GPU-";
    for (int i = 0; i < 16; ++i) {
      const auto byte = static_cast<unsigned char>(properties.uuid.bytes[i]);
      uuid += kHex[byte >> 4];
      uuid += kHex[byte & 15];
      if (i == 3 || i == 5 || i == 7 || i == 9) uuid += '-';
    }
    std::size_t free = 0;
    std::size_t total = 0;
    std::string memory = "memory unknown";
    if (cudaMemGetInfo(&free, &total) == cudaSuccess) {
      memory = mib(total - free) + " of " + mib(total) + " MiB in use (all processes)";
    } else {
      (void)cudaGetLastError();
    }
    return std::string(properties.name) + ", " + uuid + ", " + memory;
  }

  std::string fault() override {
    cudaError_t error = cudaDeviceSynchronize();
    if (error == cudaSuccess) return {};
    // An error that is not sticky is cleared by reading it; a sticky one comes back.
    (void)cudaGetLastError();
    error = cudaDeviceSynchronize();
    if (error == cudaSuccess) return {};
    return "CUDA error: " + std::string(cudaGetErrorString(error)) + " (" +
           cudaGetErrorName(error) + ")";
  }

 private:
  int device_;
  std::vector<void*> pinned_;
};

}  // namespace

std::unique_ptr<DeviceBackend> make_cuda_backend(int device_index) {
  return std::make_unique<CudaBackend>(device_index);
}

}  // namespace infervisor::worker
