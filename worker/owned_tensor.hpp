// A tensor whose bytes this process owns: warm-up inputs, benchmark inputs, tensors read from
// .npy files. InputTensor views them for ModelRunner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/tensor_spec.hpp"
#include "worker/model_runner.hpp"

namespace infervisor::worker {

struct OwnedTensor {
  DType dtype = DType::kFloat32;
  std::vector<std::int64_t> shape;
  std::vector<std::byte> data;

  InputTensor view() const noexcept { return InputTensor{dtype, shape, data}; }
};

// Zeros of the spec's dtype (all-zero bytes are 0, 0.0 or false in every DType), with each free
// dimension set to `free_dim`.
OwnedTensor zeros_for(const TensorSpec& spec, std::int64_t free_dim);

std::vector<InputTensor> views_of(const std::vector<OwnedTensor>& tensors);

}  // namespace infervisor::worker
