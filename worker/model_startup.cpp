#include "worker/model_startup.hpp"

#include <vector>

#include "worker/output_binding.hpp"
#include "worker/owned_tensor.hpp"

namespace infervisor::worker {

namespace {

Result<StartedModel> load_and_warm_up(const ModelOptions& options) {
  StartedModel started{ModelRunner::load(options.path, options.device)};
  if (!started.runner.ok()) {
    return make_error(ErrorCode::kModel, "model {}: {}", options.path, started.runner.error());
  }

  std::vector<OwnedTensor> zeros;
  for (const auto& spec : options.inputs)
    zeros.push_back(zeros_for(spec, 1));
  const std::vector<InputTensor> inputs = views_of(zeros);

  const auto begin = std::chrono::steady_clock::now();
  Forward forward = started.runner.forward(inputs);
  if (!forward.ok()) {
    return make_error(ErrorCode::kModel, "model {}: the warm-up forward() with zeros failed: {}",
                      options.path, forward.error());
  }
  auto bound = bind_outputs(options.outputs, forward.kind(), forward.outputs());
  if (!bound) {
    return make_error(ErrorCode::kModel, "model {}: {}", options.path, bound.error().message);
  }
  if (!forward.fetch(*bound)) {
    return make_error(ErrorCode::kModel, "model {}: {}", options.path, forward.error());
  }
  started.warm_up = std::chrono::steady_clock::now() - begin;
  return started;
}

}  // namespace

Result<StartedModel> start_model(const ModelOptions& options) {
  try {
    return load_and_warm_up(options);
  } catch (const std::exception& error) {
    return make_error(ErrorCode::kModel, "model {}: {}", options.path, error.what());
  }
}

}  // namespace infervisor::worker
