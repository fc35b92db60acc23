// Decoding what the server sends back. Pure: no I/O. Nothing here trusts the server: every type,
// length, offset and count is checked before it is used, and anything off throws
// InfervisorError(kCorrupt) naming the field ("outputs[1].shape"), never reads out of bounds.
#pragma once

#include <cstddef>
#include <map>
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
// An output named in `output_regions` may have neither data nor binary_data_size: the server
// wrote it into that region. It is returned with empty data and `region` set to the requested
// reference with byte_size cut to the output's size, which must fit the room asked for; any
// shared_memory_* parameters it carries must match the request. One that comes in the body
// anyway (a server that ignored the region) is returned as usual, without `region`. Any other
// output without data is refused.
InferResult decode_infer_response(std::string_view body,
                                  std::optional<std::string_view> inference_header_length,
                                  std::span<const std::string> requested_outputs = {},
                                  const std::map<std::string, RegionRef>& output_regions = {});

// Copies an output decoded with `region` set out of the mapped memory of that region into
// output.data and clears output.region. Throws kCorrupt if the reference lies outside `region`'s
// bytes or a BOOL byte is not 0 or 1; kInvalidArgument if the output has no region reference.
void read_region_output(Tensor& output, std::span<const std::byte> region);

// GET /v2/systemsharedmemory[/region/NAME]/status: [{"name","key","offset","byte_size"}], every
// field required, names and keys non-empty, each name once; with `only` (the NAME asked for)
// every entry must be that region.
std::vector<SystemRegionStatus> decode_system_shared_memory_status(
    std::string_view body, std::optional<std::string_view> only = std::nullopt);
// The same for GET /v2/cudasharedmemory[/region/NAME]/status: [{"name","device_id","byte_size"}].
std::vector<CudaRegionStatus> decode_cuda_shared_memory_status(
    std::string_view body, std::optional<std::string_view> only = std::nullopt);

ServerMetadata decode_server_metadata(std::string_view body);
ModelMetadata decode_model_metadata(std::string_view body);
std::vector<RepositoryModel> decode_repository_index(std::string_view body);

// The text of an error response: the "error" string of a JSON error object, or else the body
// itself, cut short and with control characters escaped so it is safe to print. Never throws
// for any body.
std::string decode_error_message(std::string_view body);

}  // namespace infervisor::client
