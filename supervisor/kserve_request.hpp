// Parses the body of `POST /v2/models/{m}/infer` (Open Inference Protocol, JSON tensors and the
// binary tensor data extension) and checks it against the model's declared inputs and outputs.
// Pure: no I/O. Every problem throws HttpError(400 or 413) with a message that names the tensor.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string_view>

#include "supervisor/config.hpp"
#include "supervisor/job.hpp"

namespace infervisor::supervisor {

// The client shared-memory region a request means by a name (it throws HttpError 400 for an
// unknown one); empty where client shared memory is off.
using RegionResolver = std::function<ClientRegionPtr(std::string_view name)>;

// `body` must outlive `out` (binary inputs are spans into it). `header_length` is the
// Inference-Header-Content-Length header, if the request had one. Inputs and outputs with
// Triton's shared_memory_region parameters are looked up with `regions`.
void parse_infer_request(const ModelConfig& model, std::string_view body,
                         std::optional<std::size_t> header_length, InferRequest& out,
                         const RegionResolver& regions = {});

// Inference-Header-Content-Length's value, checked against the body size.
std::optional<std::size_t> parse_header_length(std::string_view value, std::size_t body_size);

}  // namespace infervisor::supervisor
