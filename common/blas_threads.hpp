// The environment that holds the BLAS under libtorch to a thread count. libtorch's intra-op
// setting does not reach it: Debian's libtorch with OpenBLAS ran each matrix product on every
// core whatever `threads` said. OpenMP, and OpenBLAS built without it, read these when they load,
// so a process gets them at spawn (the daemon's workers, the benchmarks' in-process forward).
#pragma once

#include <string>
#include <vector>

namespace infervisor {

inline std::vector<std::string> blas_thread_environment(int threads) {
  const std::string count = std::to_string(threads);
  return {"OMP_NUM_THREADS=" + count, "OPENBLAS_NUM_THREADS=" + count};
}

}  // namespace infervisor
