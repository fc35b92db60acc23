#include "worker/owned_tensor.hpp"

#include "common/error.hpp"
#include "common/shape.hpp"

namespace infervisor::worker {

OwnedTensor zeros_for(const TensorSpec& spec, std::int64_t free_dim) {
  OwnedTensor out;
  out.dtype = spec.dtype;
  out.shape = spec.concrete_dims(free_dim);
  const auto bytes = checked_byte_size(spec.dtype, out.shape);
  if (!bytes) {
    throw InfervisorError(
        ErrorCode::kInvalidArgument,
        fmt::format("tensor '{}' of shape {} is too large", spec.name, shape_to_string(out.shape)));
  }
  out.data.resize(*bytes);
  return out;
}

std::vector<InputTensor> views_of(const std::vector<OwnedTensor>& tensors) {
  std::vector<InputTensor> out;
  out.reserve(tensors.size());
  for (const auto& tensor : tensors)
    out.push_back(tensor.view());
  return out;
}

}  // namespace infervisor::worker
