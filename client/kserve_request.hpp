// Encoding requests for the server: URL targets and inference request bodies. Pure: no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client/kserve_types.hpp"

namespace infervisor::client {

// "/v2/models/NAME" or "/v2/models/NAME/versions/VERSION", percent-encoding every byte outside
// RFC 3986's unreserved set so no model name can change the path.
std::string model_target(std::string_view model, std::string_view version = {});

// "/v2/repository/models/NAME", encoded as model_target encodes it; the caller appends "/load"
// or "/unload".
std::string repository_model_target(std::string_view model);

// "/v2/systemsharedmemory", or with a region "/v2/systemsharedmemory/region/NAME" (encoded as
// model names are); the caller appends "/register", "/unregister" or "/status".
std::string system_shared_memory_target(std::optional<std::string_view> region);

// The body of a system shared-memory register call: {"key":KEY,"offset":N,"byte_size":N}.
std::string encode_system_shared_memory_register(std::string_view key, std::uint64_t byte_size,
                                                 std::uint64_t offset);

// The same for Triton's CUDA shared-memory extension: "/v2/cudasharedmemory[/region/NAME]", and
// the register body {"raw_handle":{"b64":BASE64},"device_id":N,"byte_size":N}.
std::string cuda_shared_memory_target(std::optional<std::string_view> region);
std::string encode_cuda_shared_memory_register(std::span<const std::byte> raw_handle, int device_id,
                                               std::uint64_t byte_size);

// An inference request body: the JSON object, then in binary mode each input's bytes in input
// order. In binary mode the HTTP request carries Content-Type application/octet-stream and
// Inference-Header-Content-Length: json.size(); in JSON mode the body is `json` alone.
struct EncodedInferRequest {
  std::string json;
  std::vector<std::span<const std::byte>> binary_parts;  // views into the InferRequest's inputs
  bool binary = false;
};

// An input with a region is sent as Triton's shared_memory_region, shared_memory_byte_size and
// shared_memory_offset parameters and no data; so is each output in request.output_regions.
// Throws InfervisorError(kInvalidArgument) for a request the server must refuse anyway: no model,
// an empty or repeated name, more than kMaxDims dims, data (or a region reference's byte_size)
// that does not match shape and dtype, an input with both data and a region, an output region
// whose output is not in request.outputs, a region reference with no name or whose end overflows,
// and in JSON mode NaN/infinity. The result refers to `request`'s data: keep `request` alive.
EncodedInferRequest encode_infer_request(const InferRequest& request);

}  // namespace infervisor::client
