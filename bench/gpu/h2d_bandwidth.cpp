// infervisor-bench-h2d BYTES...: host-to-device copy bandwidth from a worker's ring, as the worker
// sees it (a POSIX shm segment made by shm/, mapped and page-locked with cudaHostRegister), next
// to cudaMemcpy from cudaMallocHost memory (the best case) and from ordinary pageable memory, for
// each size. One stream, cudaMemcpyAsync then cudaStreamSynchronize per copy, as the worker does.
// Prints one table on standard output.
#include <cuda_runtime_api.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "shm/channel.hpp"

namespace {

using Clock = std::chrono::steady_clock;

void check(cudaError_t error, const char* what) {
  if (error != cudaSuccess) {
    throw std::runtime_error(fmt::format("{}: {}", what, cudaGetErrorString(error)));
  }
}

// GB/s (1e9 bytes) of copies of `bytes` from `source` to `device`, repeated for about 0.3 s.
double bandwidth(const void* source, void* device, std::size_t bytes, cudaStream_t stream) {
  auto copy = [&] {
    check(cudaMemcpyAsync(device, source, bytes, cudaMemcpyHostToDevice, stream), "copy");
    check(cudaStreamSynchronize(stream), "synchronize");
  };
  for (int i = 0; i < 3; ++i)
    copy();
  int copies = 0;
  const auto begin = Clock::now();
  double seconds = 0;
  while (seconds < 0.3 || copies < 10) {
    copy();
    ++copies;
    seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  }
  return static_cast<double>(bytes) * copies / seconds / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::vector<std::size_t> sizes;
    for (int i = 1; i < argc; ++i)
      sizes.push_back(std::stoull(argv[i]));
    if (sizes.empty()) sizes = {602112, 4816896, 19267584};
    std::size_t largest = 0;
    for (const auto size : sizes)
      largest = std::max(largest, size);

    // A real worker segment, as infervisord creates it: the request ring holds the bytes.
    const infervisor::shm::SegmentLayout layout{largest + (1 << 20), 1 << 20};
    auto channel =
        infervisor::shm::SupervisorChannel::create(fmt::format("ivh2d{}", ::getpid()), layout, 1);
    if (!channel) throw std::runtime_error(channel.error().message);
    const auto mapping = channel->segment.mapping();
    const auto ring = channel->segment.request_ring();
    check(cudaHostRegister(mapping.data(), mapping.size(), cudaHostRegisterDefault),
          "cudaHostRegister of the segment");

    void* pinned = nullptr;
    check(cudaMallocHost(&pinned, largest), "cudaMallocHost");
    std::vector<std::byte> pageable(largest, std::byte{1});
    void* device = nullptr;
    check(cudaMalloc(&device, largest), "cudaMalloc");
    cudaStream_t stream = nullptr;
    check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "stream");

    fmt::print("host-to-device copies, GB/s (1e9 bytes/s), one stream, one copy at a time\n");
    fmt::print("  {:>10} {:>22} {:>16} {:>10} {:>8}\n", "bytes", "ring (shm, registered)",
               "cudaMallocHost", "pageable", "ratio");
    for (const auto size : sizes) {
      const double ring_rate = bandwidth(ring.data, device, size, stream);
      const double pinned_rate = bandwidth(pinned, device, size, stream);
      const double pageable_rate = bandwidth(pageable.data(), device, size, stream);
      fmt::print("  {:>10} {:>22.1f} {:>16.1f} {:>10.1f} {:>7.2f}x\n", size, ring_rate, pinned_rate,
                 pageable_rate, ring_rate / pinned_rate);
    }
    cudaHostUnregister(mapping.data());
    cudaFreeHost(pinned);
    cudaFree(device);
    return 0;
  } catch (const std::exception& error) {
    fmt::print(stderr, "infervisor-bench-h2d: {}\n", error.what());
    return 1;
  }
}
