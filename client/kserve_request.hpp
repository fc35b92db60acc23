// Encoding requests for the server: URL targets and inference request bodies. Pure: no I/O.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client/kserve_types.hpp"

namespace infervisor::client {

// "/v2/models/NAME" or "/v2/models/NAME/versions/VERSION", percent-encoding every byte outside
// RFC 3986's unreserved set so no model name can change the path.
std::string model_target(std::string_view model, std::string_view version = {});

// An inference request body: the JSON object, then in binary mode each input's bytes in input
// order. In binary mode the HTTP request carries Content-Type application/octet-stream and
// Inference-Header-Content-Length: json.size(); in JSON mode the body is `json` alone.
struct EncodedInferRequest {
  std::string json;
  std::vector<std::span<const std::byte>> binary_parts;  // views into the InferRequest's inputs
  bool binary = false;
};

// Throws InfervisorError(kInvalidArgument) for a request the server must refuse anyway: no model,
// an empty or repeated name, more than kMaxDims dims, data that does not match shape and dtype,
// and in JSON mode NaN/infinity. The result refers to `request`'s data: keep `request` alive.
EncodedInferRequest encode_infer_request(const InferRequest& request);

}  // namespace infervisor::client
