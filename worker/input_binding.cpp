#include "worker/input_binding.hpp"

#include <fmt/format.h>

#include <optional>

#include "common/shape.hpp"
#include "worker/spec_names.hpp"

namespace infervisor::worker {

Result<std::vector<InputTensor>> bind_inputs(std::span<const TensorSpec> specs,
                                             std::span<const shm::TensorView> tensors) {
  std::vector<std::optional<InputTensor>> slots(specs.size());
  for (const shm::TensorView& tensor : tensors) {
    std::size_t index = 0;
    while (index < specs.size() && specs[index].name != tensor.name)
      ++index;
    if (index == specs.size()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "input '{}' is not an input of the model (it takes {})", tensor.name,
                        spec_names(specs));
    }
    const TensorSpec& spec = specs[index];
    if (slots[index]) {
      return make_error(ErrorCode::kInvalidArgument, "input '{}' is given more than once",
                        tensor.name);
    }
    if (tensor.dtype != spec.dtype) {
      return make_error(ErrorCode::kInvalidArgument,
                        "input '{}' has dtype {} but the model takes {}", tensor.name,
                        dtype_name(tensor.dtype), dtype_name(spec.dtype));
    }
    if (!spec.accepts(tensor.shape())) {
      return make_error(ErrorCode::kInvalidArgument,
                        "input '{}' has shape {} but the model takes {} (-1: any size)",
                        tensor.name, shape_to_string(tensor.shape()), shape_to_string(spec.dims));
    }
    slots[index] = InputTensor{tensor.dtype, tensor.shape(), tensor.data, tensor.device_memory};
  }
  std::vector<InputTensor> out;
  out.reserve(specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    if (!slots[i]) {
      return make_error(ErrorCode::kInvalidArgument, "input '{}' is missing (the model takes {})",
                        specs[i].name, spec_names(specs));
    }
    out.push_back(*slots[i]);
  }
  return out;
}

}  // namespace infervisor::worker
