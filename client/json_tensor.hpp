// Tensor bytes <-> the JSON form of tensor data in the KServe protocol: a row-major array of
// numbers (BOOL as true/false). FP16 and BF16 travel as numbers and are converted both ways.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/dtype.hpp"

namespace infervisor::client {

// A flat array. Every float goes out as the exact double of its value, so the server reads back
// the very same float. Throws InfervisorError(kInvalidArgument) for NaN or infinity, which JSON
// cannot spell, and for BOOL bytes other than 0 and 1. `what` names the tensor ("input 'x'").
boost::json::array tensor_data_to_json(DType dtype, std::span<const std::byte> data,
                                       std::string_view what);

// `data` may be flat or nested one array level per dimension; either way it must hold exactly
// `element_count` values, each one a `dtype` value by the rules of common/json_element.hpp (which
// the daemon follows too: null is NaN for float types, 3.0 is 3 for integer types, ...). Throws
// InfervisorError(kCorrupt) naming the tensor, the element and what was wrong with it.
std::vector<std::byte> tensor_data_from_json(DType dtype, const boost::json::value& data,
                                             std::uint64_t element_count, std::string_view what);

}  // namespace infervisor::client
