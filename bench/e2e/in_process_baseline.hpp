// The in-process baseline: `infervisor-reference --bench` runs the same model through the same
// ModelRunner with no daemon, no socket and no ring. Run as its own process so that this
// benchmark never links libtorch and the baseline pays for nothing the workers do not.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace infervisor::bench::e2e {

struct InProcessBaseline {
  std::string torch_version;
  int latency_iterations = 0;
  double p50_us = 0;  // one caller thread, forward() in sequence
  double p99_us = 0;
  double mean_us = 0;
  int threads = 0;  // concurrent callers, one intra-op thread each, like as many workers
  double forwards = 0;
  double forwards_per_s = 0;
  int intra_op_threads = 1;
  int interop_threads = 1;
  std::string device_description;
  double input_copy_us = 0;  // the latency loop's mean stage times
  double forward_us = 0;
  double output_copy_us = 0;
};

// Runs `reference --model MODEL --bench --input-spec SPEC --threads T --iterations N` and parses
// the JSON it prints. Throws std::runtime_error naming the command if it fails.
// `extra` goes to the command line as well (e.g. {"--device", "cuda:0"}).
InProcessBaseline run_in_process_baseline(const std::filesystem::path& reference,
                                          const std::filesystem::path& model,
                                          const std::string& input_spec, int threads,
                                          int iterations,
                                          const std::vector<std::string>& extra = {});

}  // namespace infervisor::bench::e2e
