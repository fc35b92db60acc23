// The client side of the shared-memory rows: an input region holding the benchmark's input and an
// output region for the model's output, created (client::SystemRegion) and registered with the
// daemon for as long as this object lives. Every connection of the load sends the same request,
// so all of them read the one input region and write the one output region: the rows measure what
// the transport costs, not what a client does with its outputs.
#pragma once

#include <filesystem>
#include <string>

#include "bench/e2e/infer_payload.hpp"
#include "client/shared_memory_region.hpp"

namespace infervisor::bench::e2e {

class RegionTensors {
 public:
  // Throws InfervisorError if the regions cannot be created or the daemon refuses them.
  RegionTensors(const std::filesystem::path& socket, const PayloadShape& shape);
  ~RegionTensors();  // unregisters both
  RegionTensors(const RegionTensors&) = delete;
  RegionTensors& operator=(const RegionTensors&) = delete;

  const InferPayload& payload() const noexcept { return payload_; }

 private:
  std::filesystem::path socket_;
  client::SystemRegion input_;
  client::SystemRegion output_;
  InferPayload payload_;
};

}  // namespace infervisor::bench::e2e
