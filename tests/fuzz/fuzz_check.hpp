// A fuzz target's invariant. When it fails the target aborts, which libFuzzer reports as a crash
// and keeps the input for; unlike assert() it holds in the RelWithDebInfo (NDEBUG) fuzz build.
#pragma once

#include <cstdlib>

namespace infervisor {

inline void fuzz_check(bool invariant) {
  if (!invariant) std::abort();
}

}  // namespace infervisor
