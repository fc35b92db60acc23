// Model exceptions as users should read them. A TorchScript error is a long traceback whose last
// line ("RuntimeError: AssertionError: ...") is what went wrong; that line goes first, so it
// survives the 4 KiB limit of an ERROR record and is what a client sees at a glance.
#pragma once

#include <string>
#include <string_view>

namespace infervisor::worker {

std::string summarize_model_error(std::string_view message);

}  // namespace infervisor::worker
