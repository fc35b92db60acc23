// "x, y": the names of a model's inputs or outputs, for error messages.
#pragma once

#include <span>
#include <string>

#include "common/tensor_spec.hpp"

namespace infervisor::worker {

inline std::string spec_names(std::span<const TensorSpec> specs) {
  std::string out;
  for (const auto& spec : specs) {
    if (!out.empty()) out += ", ";
    out += spec.name;
  }
  return out;
}

}  // namespace infervisor::worker
