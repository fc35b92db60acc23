// Custom operator libraries: shared objects that register TorchScript ops (TORCH_LIBRARY) when
// they are loaded. A model that calls such an op cannot even be deserialized until its library is
// in the process, so the worker loads them all before the model.
#pragma once

#include <span>
#include <string>

#include "common/error.hpp"

namespace infervisor::worker {

// dlopen()s each file in order, RTLD_NOW (an unresolved symbol fails here, not in the middle of
// a job) and RTLD_GLOBAL (a later library, and the model's ops, may use an earlier one's
// symbols). The libraries stay loaded for the life of the process: their ops are registered in
// libtorch's global tables, so unloading one would leave dangling kernels behind.
// Error kModel: "cannot load the operator library FILE: <dlerror()>", for the first that fails.
Result<void> load_op_libraries(std::span<const std::string> files);

}  // namespace infervisor::worker
