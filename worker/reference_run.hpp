// infervisor-reference's default mode: run a model in this process, through the same ModelRunner
// the worker uses, and write each output as .npy. Tests compare the daemon's answers with these.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/tensor_spec.hpp"

namespace infervisor::worker {

struct ReferenceInput {
  std::string name;  // for messages only: forward() takes its arguments by position
  std::filesystem::path file;
};

struct ReferenceRequest {
  std::string model_path;
  std::string device = "cpu";
  std::vector<ReferenceInput> inputs;  // in forward() argument order
  // Optional: name and check the outputs as the worker would. Without them a Dict's outputs are
  // named by key and other outputs output0, output1, ...
  std::vector<TensorSpec> outputs;
  std::filesystem::path out_dir;
};

// Writes out_dir/<name>.npy per output and returns the paths written. Throws InfervisorError
// saying what went wrong.
std::vector<std::filesystem::path> run_reference(const ReferenceRequest& request);

}  // namespace infervisor::worker
