#include "worker/output_binding.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "common/shape.hpp"
#include "worker/spec_names.hpp"

namespace infervisor::worker {
namespace {

std::string describe_return(ReturnKind kind, std::size_t count) {
  if (kind == ReturnKind::kTensor) return "a single Tensor";
  return fmt::format("a tuple or list of {} Tensors", count);
}

Result<void> check_output(const TensorSpec& spec, const ModelOutput& output) {
  if (!output.dtype) {
    return make_error(
        ErrorCode::kModel,
        "output '{}' has dtype {}, which infervisor cannot carry (the config says {})", spec.name,
        output.torch_dtype, dtype_name(spec.dtype));
  }
  if (*output.dtype != spec.dtype) {
    return make_error(ErrorCode::kModel, "output '{}' has dtype {} but the config says {}",
                      spec.name, dtype_name(*output.dtype), dtype_name(spec.dtype));
  }
  if (!spec.accepts(output.shape)) {
    return make_error(ErrorCode::kModel,
                      "output '{}' has shape {} but the config says {} (-1: any size)", spec.name,
                      shape_to_string(output.shape), shape_to_string(spec.dims));
  }
  return {};
}

}  // namespace

Result<std::vector<std::size_t>> bind_outputs(std::span<const TensorSpec> specs, ReturnKind kind,
                                              std::span<const ModelOutput> outputs) {
  std::vector<std::size_t> bound;
  if (kind == ReturnKind::kDict) {
    if (outputs.size() != specs.size()) {
      std::string keys;
      for (const auto& output : outputs)
        keys += fmt::format("{}'{}'", keys.empty() ? "" : ", ", output.key);
      return make_error(ErrorCode::kModel,
                        "forward() returns a Dict with {} entries ({}) but the config declares {} "
                        "outputs ({})",
                        outputs.size(), keys, specs.size(), spec_names(specs));
    }
    for (const auto& spec : specs) {
      const auto found =
          std::find_if(outputs.begin(), outputs.end(),
                       [&](const ModelOutput& output) { return output.key == spec.name; });
      if (found == outputs.end()) {
        return make_error(ErrorCode::kModel, "forward() returns a Dict without the output '{}'",
                          spec.name);
      }
      bound.push_back(static_cast<std::size_t>(found - outputs.begin()));
    }
  } else {
    if (outputs.size() != specs.size()) {
      return make_error(ErrorCode::kModel,
                        "forward() returns {} but the config declares {} outputs ({})",
                        describe_return(kind, outputs.size()), specs.size(), spec_names(specs));
    }
    for (std::size_t i = 0; i < specs.size(); ++i)
      bound.push_back(i);
  }
  for (std::size_t i = 0; i < specs.size(); ++i) {
    if (auto checked = check_output(specs[i], outputs[bound[i]]); !checked) return checked.error();
  }
  return bound;
}

Result<std::vector<std::size_t>> select_outputs(std::span<const TensorSpec> specs,
                                                std::span<const std::string_view> requested) {
  std::vector<std::size_t> selected;
  if (requested.empty()) {
    for (std::size_t i = 0; i < specs.size(); ++i)
      selected.push_back(i);
    return selected;
  }
  for (const std::string_view name : requested) {
    const auto found = std::find_if(specs.begin(), specs.end(),
                                    [&](const TensorSpec& spec) { return spec.name == name; });
    if (found == specs.end()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "requested output '{}' is not an output of the model (it has {})", name,
                        spec_names(specs));
    }
    const auto index = static_cast<std::size_t>(found - specs.begin());
    if (std::find(selected.begin(), selected.end(), index) != selected.end()) {
      return make_error(ErrorCode::kInvalidArgument, "output '{}' is requested more than once",
                        name);
    }
    selected.push_back(index);
  }
  return selected;
}

}  // namespace infervisor::worker
