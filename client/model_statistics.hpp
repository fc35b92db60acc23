// Triton's statistics extension, client side: the URL to ask and the decoding of the answer.
// Pure: no I/O. The answer is checked in full, as every server reply is (kserve_response.hpp).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "client/kserve_types.hpp"

namespace infervisor::client {

// "/v2/models/stats" for every model, "/v2/models/NAME/stats", or
// "/v2/models/NAME/versions/VERSION/stats", encoded as model_target encodes names. Throws
// InfervisorError(kInvalidArgument) for a version without a model.
std::string model_statistics_target(std::string_view model = {}, std::string_view version = {});

// {"model_stats": [...]}: each entry needs Triton's fields (name, version, last_inference,
// inference_count, execution_count, inference_stats with success, fail, queue, compute_input,
// compute_infer and compute_output, batch_stats), as integers from 0 to 2^64 - 1 where they
// count; cache_hit and cache_miss may be missing (older Tritons), and so may infervisord's
// "infervisor" object and each of its fields, but what is there must have the right type.
// No name and version twice. With `only_model` (the model asked for) every entry must be that
// model, and with `only_version` that version. Anything off throws InfervisorError(kCorrupt)
// naming the field ("model_stats[0].inference_stats.queue.ns"). Unknown fields are ignored.
std::vector<ModelStatistics> decode_model_statistics(std::string_view body,
                                                     std::string_view only_model = {},
                                                     std::string_view only_version = {});

}  // namespace infervisor::client
