#include "bench/gpu/cuda_region_tensors.hpp"

#include <cuda_runtime_api.h>
#include <fmt/format.h>
#include <unistd.h>

#include <span>
#include <stdexcept>

#include "client/client.hpp"

namespace infervisor::bench::gpu {
namespace {

void check(cudaError_t error, const char* what) {
  if (error != cudaSuccess) {
    throw std::runtime_error(fmt::format("{}: {}", what, cudaGetErrorString(error)));
  }
}

client::Client client_for(const std::filesystem::path& socket) {
  client::ClientOptions options;
  options.endpoint = client::UnixEndpoint{socket};
  return client::Client(options);
}

void register_block(client::Client& client, const std::string& name, void* block, std::size_t bytes,
                    int device_id) {
  cudaIpcMemHandle_t handle{};
  check(cudaIpcGetMemHandle(&handle, block), "cudaIpcGetMemHandle");
  client.register_cuda_shared_memory(name, std::as_bytes(std::span(&handle, 1)), device_id, bytes);
}

}  // namespace

CudaRegionTensors::CudaRegionTensors(const std::filesystem::path& socket,
                                     const e2e::PayloadShape& shape, int device, int device_id)
    : socket_(socket),
      input_name_(fmt::format("ivbench-cuda-in-{}", ::getpid())),
      output_name_(fmt::format("ivbench-cuda-out-{}", ::getpid())),
      payload_(e2e::make_region_payload(shape, input_name_, output_name_)) {
  const auto input = e2e::input_bytes(shape.shape);
  const std::size_t output_bytes = shape.output_elements * sizeof(float);
  try {
    check(cudaSetDevice(device), "cudaSetDevice");
    check(cudaMalloc(&input_, input.size()), "cudaMalloc");
    check(cudaMalloc(&output_, output_bytes), "cudaMalloc");
    check(cudaMemcpy(input_, input.data(), input.size(), cudaMemcpyHostToDevice), "cudaMemcpy");
    auto client = client_for(socket_);
    register_block(client, input_name_, input_, input.size(), device_id);
    register_block(client, output_name_, output_, output_bytes, device_id);
  } catch (...) {
    cudaFree(input_);
    cudaFree(output_);
    throw;
  }
}

CudaRegionTensors::~CudaRegionTensors() {
  try {
    auto client = client_for(socket_);
    client.unregister_cuda_shared_memory(input_name_);
    client.unregister_cuda_shared_memory(output_name_);
  } catch (const std::exception&) {
    // The daemon is gone already: its regions went with it.
  }
  cudaFree(input_);
  cudaFree(output_);
}

}  // namespace infervisor::bench::gpu
