// The client side of the CUDA shared-memory rows: the benchmark's input and an output block in
// this process's GPU memory (cudaMalloc), exported with cudaIpcGetMemHandle and registered with
// the daemon as CUDA regions for as long as this object lives. As with RegionTensors, every
// connection sends the same request naming the two regions, so the rows measure what the path
// costs: the worker reads the input in place on the GPU and copies the output device to device.
// Built only with CUDA (it links the CUDA runtime; the daemon and the load generator do not).
#pragma once

#include <filesystem>
#include <string>

#include "bench/e2e/infer_payload.hpp"

namespace infervisor::bench::gpu {

class CudaRegionTensors {
 public:
  // On CUDA device `device` of this process, registered as the daemon's GPU `device_id`.
  // Throws std::runtime_error (CUDA) or InfervisorError (the daemon refused).
  CudaRegionTensors(const std::filesystem::path& socket, const e2e::PayloadShape& shape,
                    int device = 0, int device_id = 0);
  ~CudaRegionTensors();  // unregisters both, then frees them
  CudaRegionTensors(const CudaRegionTensors&) = delete;
  CudaRegionTensors& operator=(const CudaRegionTensors&) = delete;

  const e2e::InferPayload& payload() const noexcept { return payload_; }

 private:
  std::filesystem::path socket_;
  std::string input_name_;
  std::string output_name_;
  void* input_ = nullptr;
  void* output_ = nullptr;
  e2e::InferPayload payload_;
};

}  // namespace infervisor::bench::gpu
