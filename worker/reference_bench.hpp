// infervisor-reference --bench: the "in-process" baseline for the end-to-end benchmark. The same
// model, the same ModelRunner, no channel and no supervisor:
//   latency     one caller thread runs forward() `iterations` times in sequence, after a warm-up
//               of at least 20 calls and 1 s: p50, p99, mean
//   throughput  `threads` caller threads run forward() `iterations` times each, at once, on the
//               same module: forwards per second over the wall time
// Every forward() takes the worker's job path: inputs from pinned host buffers (copied to a GPU
// asynchronously), outputs copied into pinned host buffers, one wait per job (copy_output and
// finish). libtorch runs `intra_op_threads` (default 1), so `threads` callers compare with as
// many workers of that many threads; each caller thread has its own stream on a GPU.
#pragma once

#include <string>
#include <vector>

#include "common/tensor_spec.hpp"

namespace infervisor::worker {

struct BenchRequest {
  std::string model_path;
  std::string device = "cpu";
  std::vector<TensorSpec> inputs;  // zeros of these shapes (free dimensions = 1)
  int iterations = 1000;
  int threads = 2;
  int intra_op_threads = 1;  // configured by the caller (ModelRunner::configure_threads)
  int interop_threads = 1;
};

// Returns the results as one JSON object. Throws InfervisorError on any failure.
std::string run_bench(const BenchRequest& request);

}  // namespace infervisor::worker
