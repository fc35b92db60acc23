// What the client sends and receives, in the terms of the KServe v2 / Open Inference Protocol.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/dtype.hpp"

namespace infervisor::client {

// Where a tensor's bytes lie when they travel through a registered system shared-memory region
// (Triton's system_shared_memory extension) instead of the body: `byte_size` bytes from `offset`
// in the region registered as `region`.
struct RegionRef {
  std::string region;
  std::uint64_t offset = 0;
  std::uint64_t byte_size = 0;
  bool operator==(const RegionRef&) const = default;
};

// One tensor as the protocol carries it: C-order, little-endian bytes, exactly
// element_count(shape) * dtype_size(dtype) of them; BOOL bytes are 0 or 1.
// With `region` set the bytes are in shared memory instead and `data` is empty: an input is sent
// as that reference (its byte_size must be the tensor's size); an output the server wrote into a
// region comes back so, byte_size being the output's size (see read_region_output).
struct Tensor {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<std::int64_t> shape;
  std::vector<std::byte> data;
  std::optional<RegionRef> region = std::nullopt;
};

struct InferRequest {
  std::string model;
  std::string model_version;  // empty: the server picks
  std::string id;             // empty: none is sent
  std::vector<Tensor> inputs;
  std::vector<std::string> outputs;  // empty: every output the model has
  // True: the binary tensor data extension (raw bytes after the JSON); false: JSON `data` arrays.
  bool binary = true;
  // Outputs named in `outputs` that the server is to write into a region instead of the body:
  // the reference's byte_size is the room there, at least the output's size.
  std::map<std::string, RegionRef> output_regions = {};
};

struct InferResult {
  std::string model_name;
  std::string model_version;
  std::string id;
  std::vector<Tensor> outputs;  // in the server's order
};

// A tensor as model metadata describes it. The datatype stays a string: metadata may name types
// this client cannot carry (BYTES), and listing them should not fail.
struct TensorMetadata {
  std::string name;
  std::string datatype;
  std::vector<std::int64_t> shape;  // -1 marks a free dimension
};

struct ModelMetadata {
  std::string name;
  std::vector<std::string> versions;
  std::string platform;
  std::vector<TensorMetadata> inputs;
  std::vector<TensorMetadata> outputs;
};

struct ServerMetadata {
  std::string name;
  std::string version;
  std::vector<std::string> extensions;
};

// One region the server has registered (GET /v2/systemsharedmemory/status).
struct SystemRegionStatus {
  std::string name;
  std::string key;  // the POSIX shm name, "/name"
  std::uint64_t offset = 0;
  std::uint64_t byte_size = 0;
  bool operator==(const SystemRegionStatus&) const = default;
};

// One entry of the repository index (Triton's model repository extension).
struct RepositoryModel {
  std::string name;
  std::string version;  // may be empty
  std::string state;    // e.g. READY, LOADING, UNAVAILABLE; may be empty
  std::string reason;   // why it is not ready; may be empty
};

}  // namespace infervisor::client
