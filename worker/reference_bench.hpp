// infervisor-reference --bench: the "in-process" baseline for the end-to-end benchmark. The same
// model, the same ModelRunner, no channel and no supervisor:
//   latency     one caller thread runs forward() `iterations` times in sequence: p50, p99, mean
//   throughput  `threads` caller threads run forward() `iterations` times each, at once, on the
//               same module: forwards per second over the wall time
// Every forward() also fetches its outputs to host memory, as the worker must. libtorch runs one
// intra-op thread, so `threads` callers compare with as many single-threaded workers.
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
};

// Returns the results as one JSON object. Throws InfervisorError on any failure.
std::string run_bench(const BenchRequest& request);

}  // namespace infervisor::worker
