// Matches what a model's forward() returned to the configured output specs, and picks the outputs
// a request asked for. Works on ModelOutput descriptions only, so it needs no libtorch.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "common/tensor_spec.hpp"
#include "worker/model_runner.hpp"

namespace infervisor::worker {

// For each spec, in order, the index of the ModelOutput that carries it:
//   a Tensor            -> the one spec (a config with more outputs is an error)
//   a tuple/list        -> the specs in order; the counts must agree
//   a Dict[str, Tensor] -> by name; the keys must be exactly the spec names
// Each output must have its spec's dtype, rank and fixed dimensions. Errors (kModel) say what
// was expected and what was found, e.g. "output 'y' has dtype float64 but the config says
// float32"; callers prefix the model.
Result<std::vector<std::size_t>> bind_outputs(std::span<const TensorSpec> specs, ReturnKind kind,
                                              std::span<const ModelOutput> outputs);

// Spec indices of the outputs a request asked for, in the order it asked; all of them, in spec
// order, when it named none. An unknown or repeated name is a kInvalidArgument error.
Result<std::vector<std::size_t>> select_outputs(std::span<const TensorSpec> specs,
                                                std::span<const std::string_view> requested);

}  // namespace infervisor::worker
