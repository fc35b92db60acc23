// What the client sends and receives, in the terms of the KServe v2 / Open Inference Protocol.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/dtype.hpp"

namespace infervisor::client {

// One tensor as the protocol carries it: C-order, little-endian bytes, exactly
// element_count(shape) * dtype_size(dtype) of them; BOOL bytes are 0 or 1.
struct Tensor {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<std::int64_t> shape;
  std::vector<std::byte> data;
};

struct InferRequest {
  std::string model;
  std::string model_version;  // empty: the server picks
  std::string id;             // empty: none is sent
  std::vector<Tensor> inputs;
  std::vector<std::string> outputs;  // empty: every output the model has
  // True: the binary tensor data extension (raw bytes after the JSON); false: JSON `data` arrays.
  bool binary = true;
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

// One entry of the repository index (Triton's model repository extension).
struct RepositoryModel {
  std::string name;
  std::string version;  // may be empty
  std::string state;    // e.g. READY, LOADING, UNAVAILABLE; may be empty
  std::string reason;   // why it is not ready; may be empty
};

}  // namespace infervisor::client
