// A job's request frame described for shm/: its inputs' names, dtypes and shapes and the outputs it
// asks for. One description for the two places that plan the frame: admission (does it fit the
// ring?) and the write into the ring.
#pragma once

#include <string_view>

#include "shm/frame.hpp"
#include "supervisor/job.hpp"

namespace infervisor::supervisor {

struct RequestLayout {
  shm::SmallVector<shm::TensorLayout> inputs;
  shm::SmallVector<std::string_view> outputs;
};

// Views into `request`, valid while it lives.
inline RequestLayout request_layout(const InferRequest& request) {
  RequestLayout layout;
  for (const auto& input : request.inputs)
    layout.inputs.push_back({input.name, input.dtype, input.shape});
  for (const auto& output : request.outputs)
    layout.outputs.push_back(output.name);
  return layout;
}

}  // namespace infervisor::supervisor
