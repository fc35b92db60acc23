// Builds the daemon's JSON answers: inference responses (JSON tensors or the binary tensor data
// extension) from a worker's response frame, and the metadata documents. Pure: no I/O.
#pragma once

#include <span>
#include <string_view>

#include "shm/frame.hpp"
#include "supervisor/config.hpp"
#include "supervisor/http_reply.hpp"
#include "supervisor/job.hpp"

namespace infervisor::supervisor {

// Checks the frame's tensors against the model's declared outputs and what the request asked for
// (a mismatch is a worker fault: HttpError 500), then encodes them. Tensor bytes are copied once,
// from the ring into the reply body.
HttpReply encode_infer_response(const ModelConfig& model, const InferRequest& request,
                                const shm::FrameView& frame);

// `system_shared_memory`: advertise Triton's system_shared_memory extension (when it is on).
std::string server_metadata_json(std::string_view version, bool system_shared_memory = false,
                                 bool cuda_shared_memory = false);
struct ModelState;
// `state`, when given, adds the model's state (and why it is FAILED).
std::string model_metadata_json(const ModelConfig& model, const ModelState* state = nullptr);

struct ModelState {
  const ModelConfig* model;
  bool ready;
  std::string_view state = "READY";  // LOADING, READY, FAILED, UNLOADING, UNAVAILABLE
  std::string reason;                // why it is FAILED (or empty)
};
// Triton's repository index extension: [{"name", "version", "state", "reason"}].
std::string repository_index_json(std::span<const ModelState> models);

}  // namespace infervisor::supervisor
