// The ten fixed models the KServe request fuzzer decodes against (kserve_request_fuzzer.cpp), one
// per datatype, which the seed generator (fuzz_seeds.cpp) writes requests for.
#pragma once

#include <string>

#include "common/tensor_spec.hpp"
#include "shm/segment.hpp"
#include "supervisor/config.hpp"

namespace infervisor::supervisor::fuzz {

// Input x of `dtype` with a free batch dimension, a BOOL mask (whose binary bytes must be 0 or 1)
// and an INT32 scalar (which JSON may give as a bare number); outputs of two dtypes.
inline ModelConfig model_for(DType dtype) {
  ModelConfig model;
  model.name = std::string(1, 'm');  // (GCC 12 warns falsely, -Wrestrict, on assigning "m")
  model.inputs = {
      {"x", dtype, {kFreeDim, 2}}, {"mask", DType::kBool, {2}}, {"t", DType::kInt32, {}}};
  model.outputs = {{"y", dtype, {kFreeDim, 2}}, {"count", DType::kInt64, {kFreeDim}}};
  // The smallest ring, so that a shape too large for it (413) is within the fuzzer's reach.
  model.ring_bytes = shm::kMinRingBytes;
  return model;
}

}  // namespace infervisor::supervisor::fuzz
