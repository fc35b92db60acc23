// Matches a request's tensors to the model's input specs. The supervisor checks requests too,
// but the worker never trusts a peer: a tensor that does not suit the model must become a
// kBadInput error, not a crash inside libtorch.
#pragma once

#include <span>
#include <vector>

#include "common/error.hpp"
#include "common/tensor_spec.hpp"
#include "shm/frame.hpp"
#include "worker/model_runner.hpp"

namespace infervisor::worker {

// Every spec'd input present exactly once, with the spec's dtype and an accepted shape; nothing
// else. Returns the inputs in spec order (forward()'s argument order), viewing `tensors`' bytes
// and dims: they stay valid as long as `tensors` does. Errors are kInvalidArgument.
Result<std::vector<InputTensor>> bind_inputs(std::span<const TensorSpec> specs,
                                             std::span<const shm::TensorView> tensors);

}  // namespace infervisor::worker
