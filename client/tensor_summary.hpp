// A one-line description of a tensor for people: what infervisorctl prints for each output.
#pragma once

#include <cstddef>
#include <string>

#include "client/kserve_types.hpp"

namespace infervisor::client {

// "y FP32 [2, 3] [0.5, 1, 2, ...] min 0.5 max 7 mean 2.25": name, datatype, shape, the first
// `max_values` values, and min/max/mean over all of them. NaNs are left out of the statistics
// and counted ("(2 NaN)"); BOOL counts as 0/1; an empty tensor says "(empty)". Assumes
// tensor.data matches its shape and dtype (as decoded responses do).
std::string summarize_tensor(const Tensor& tensor, std::size_t max_values = 6);

}  // namespace infervisor::client
