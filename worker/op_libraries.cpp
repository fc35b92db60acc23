#include "worker/op_libraries.hpp"

#include <dlfcn.h>

namespace infervisor::worker {

Result<void> load_op_libraries(std::span<const std::string> files) {
  for (const std::string& file : files) {
    // Never closed (see the header); the handle is dropped on purpose.
    if (::dlopen(file.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr) {
      const char* reason = ::dlerror();
      return make_error(ErrorCode::kModel, "cannot load the operator library {}: {}", file,
                        reason != nullptr ? reason : "dlopen() failed without a reason");
    }
  }
  return {};
}

}  // namespace infervisor::worker
