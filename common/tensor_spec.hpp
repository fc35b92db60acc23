// What a model declares about one input or output: name, dtype and shape, where -1 marks a free
// dimension. The supervisor checks requests against it; the worker checks the model against it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/dtype.hpp"

namespace infervisor {

inline constexpr std::int64_t kFreeDim = -1;

struct TensorSpec {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<std::int64_t> dims;  // kFreeDim or >= 0

  // True if `shape` has the same rank and agrees on every fixed dimension.
  bool accepts(std::span<const std::int64_t> shape) const noexcept;
  // The spec's shape with every free dimension set to `free_value` (e.g. 1 for a warm-up batch).
  std::vector<std::int64_t> concrete_dims(std::int64_t free_value) const;

  bool operator==(const TensorSpec&) const = default;
};

// "x:float32:-1,256" <-> TensorSpec; a scalar is "x:float32:". Used on the worker's command line.
// Throws InfervisorError naming the bad part.
TensorSpec parse_tensor_spec(std::string_view text);
std::string format_tensor_spec(const TensorSpec& spec);

}  // namespace infervisor
