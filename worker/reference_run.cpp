#include "worker/reference_run.hpp"

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/npy.hpp"
#include "worker/model_error.hpp"
#include "worker/model_runner.hpp"
#include "worker/output_binding.hpp"
#include "worker/owned_tensor.hpp"

namespace infervisor::worker {
namespace {

struct NamedOutput {
  std::string name;
  std::size_t index;  // into Forward::outputs()
};

std::vector<NamedOutput> name_outputs(const ReferenceRequest& request, const Forward& forward) {
  std::vector<NamedOutput> named;
  if (!request.outputs.empty()) {
    const auto bound = bind_outputs(request.outputs, forward.kind(), forward.outputs());
    if (!bound) {
      throw InfervisorError(ErrorCode::kModel,
                            fmt::format("model {}: {}", request.model_path, bound.error().message));
    }
    for (std::size_t i = 0; i < request.outputs.size(); ++i) {
      named.push_back({request.outputs[i].name, (*bound)[i]});
    }
    return named;
  }
  const auto outputs = forward.outputs();
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    named.push_back({forward.kind() == ReturnKind::kDict ? std::string(outputs[i].key)
                                                         : fmt::format("output{}", i),
                     i});
  }
  return named;
}

}  // namespace

std::vector<std::filesystem::path> run_reference(const ReferenceRequest& request) {
  const ModelRunner runner = ModelRunner::load(request.model_path, request.device);
  if (!runner.ok()) {
    throw InfervisorError(ErrorCode::kModel,
                          fmt::format("model {}: {}", request.model_path, runner.error()));
  }
  std::vector<OwnedTensor> tensors;
  for (const auto& input : request.inputs) {
    NpyArray array = read_npy(input.file);
    tensors.push_back({array.dtype, std::move(array.shape), std::move(array.data)});
  }
  Forward forward = runner.forward(views_of(tensors));
  if (!forward.ok()) {
    throw InfervisorError(ErrorCode::kModel, fmt::format("model {} raised: {}", request.model_path,
                                                         summarize_model_error(forward.error())));
  }
  const std::vector<NamedOutput> named = name_outputs(request, forward);
  std::vector<std::size_t> indices;
  for (const auto& output : named)
    indices.push_back(output.index);
  if (!forward.fetch(indices)) {
    throw InfervisorError(ErrorCode::kModel,
                          fmt::format("model {}: {}", request.model_path, forward.error()));
  }

  std::filesystem::create_directories(request.out_dir);
  std::vector<std::filesystem::path> written;
  for (const auto& output : named) {
    const ModelOutput& description = forward.outputs()[output.index];
    if (!description.dtype) {
      throw InfervisorError(
          ErrorCode::kModel,
          fmt::format("model {}: output '{}' has dtype {}, which has no .npy form "
                      "here",
                      request.model_path, output.name, description.torch_dtype));
    }
    auto path = request.out_dir / (output.name + ".npy");
    write_npy(path, *description.dtype, description.shape, forward.host_bytes(output.index));
    written.push_back(std::move(path));
  }
  return written;
}

}  // namespace infervisor::worker
