// Decoding what the server sends back. Pure: no I/O. Nothing here trusts the server: every type,
// length, offset and count is checked before it is used, and anything off throws
// InfervisorError(kCorrupt) naming the field ("outputs[1].shape"), never reads out of bounds.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client/kserve_types.hpp"

namespace infervisor::client {

// An inference response body. `inference_header_length` is the Inference-Header-Content-Length
// response header if there was one: the body is then that much JSON followed by the binary data
// of each output that has parameters.binary_data_size, in output order, with nothing left over.
// Without it the body is JSON alone. Every name in `requested_outputs` must be answered.
InferResult decode_infer_response(std::string_view body,
                                  std::optional<std::string_view> inference_header_length,
                                  std::span<const std::string> requested_outputs = {});

ServerMetadata decode_server_metadata(std::string_view body);
ModelMetadata decode_model_metadata(std::string_view body);
std::vector<RepositoryModel> decode_repository_index(std::string_view body);

// The text of an error response: the "error" string of a JSON error object, or else the body
// itself, cut short and with control characters escaped so it is safe to print. Never throws
// for any body.
std::string decode_error_message(std::string_view body);

}  // namespace infervisor::client
