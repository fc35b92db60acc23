// Start-up: load the model and prove that it matches its configuration before the worker tells
// the supervisor it is READY. A mismatch found here is one clear start-up error instead of a
// failure on every request.
#pragma once

#include <chrono>

#include "common/error.hpp"
#include "worker/model_runner.hpp"
#include "worker/worker_options.hpp"

namespace infervisor::worker {

struct StartedModel {
  ModelRunner runner;
  std::chrono::duration<double, std::milli> warm_up{};
};

// Loads options.path onto options.device, then runs one warm-up forward with zeros of the input
// specs (free dimensions = 1) and checks the outputs against the output specs. Errors say what
// was expected and found, naming the file: "model /x.pt: output 'y' has dtype float64 but the
// config says float32". Torch's thread pools must be configured before.
Result<StartedModel> start_model(const ModelOptions& options);

}  // namespace infervisor::worker
