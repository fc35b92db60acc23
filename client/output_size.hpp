// An output's size before the call, from the model's metadata: what infervisorctl --shm needs to
// reserve room for outputs in shared memory. Pure: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "client/kserve_types.hpp"

namespace infervisor::client {

// The batch size the inputs give: the first dimension of every input that the metadata declares
// with a leading -1, if there is at least one and they all agree; else nullopt.
std::optional<std::int64_t> batch_size(const ModelMetadata& metadata,
                                       std::span<const Tensor> inputs);

// The output's byte size when its declared shape fixes it, a leading -1 taken as `batch`; nullopt
// when a dimension stays free, the datatype is one this client cannot carry, or it overflows.
std::optional<std::uint64_t> predicted_output_bytes(const TensorMetadata& output,
                                                    std::optional<std::int64_t> batch);

}  // namespace infervisor::client
