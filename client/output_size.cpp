#include "client/output_size.hpp"

#include <vector>

#include "common/shape.hpp"

namespace infervisor::client {

std::optional<std::int64_t> batch_size(const ModelMetadata& metadata,
                                       std::span<const Tensor> inputs) {
  std::optional<std::int64_t> batch;
  for (const auto& declared : metadata.inputs) {
    if (declared.shape.empty() || declared.shape[0] != -1) continue;
    for (const auto& input : inputs) {
      if (input.name != declared.name || input.shape.empty()) continue;
      if (batch && *batch != input.shape[0]) return std::nullopt;
      batch = input.shape[0];
    }
  }
  return batch;
}

std::optional<std::uint64_t> predicted_output_bytes(const TensorMetadata& output,
                                                    std::optional<std::int64_t> batch) {
  const auto dtype = dtype_from_kserve(output.datatype);
  if (!dtype) return std::nullopt;
  std::vector<std::int64_t> dims = output.shape;
  if (!dims.empty() && dims[0] == -1 && batch) dims[0] = *batch;
  return checked_byte_size(*dtype, dims);  // nullopt for a -1 left
}

}  // namespace infervisor::client
