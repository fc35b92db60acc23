// Small FP32 tensors for the end-to-end tests of the test-op models (tests/ops/test_ops.hpp).
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "client/client.hpp"
#include "running_daemon.hpp"

namespace infervisor::testing {

inline client::Tensor floats(std::vector<std::int64_t> shape, const std::vector<float>& values) {
  client::Tensor tensor{"x", DType::kFloat32, std::move(shape),
                        std::vector<std::byte>(values.size() * sizeof(float))};
  std::memcpy(tensor.data.data(), values.data(), tensor.data.size());
  return tensor;
}

inline std::vector<float> values_of(const client::Tensor& tensor) {
  std::vector<float> out(tensor.data.size() / sizeof(float));
  std::memcpy(out.data(), tensor.data.data(), tensor.data.size());
  return out;
}

// A `models:` entry for one of the test-op models (poison, hang, leak: x and y FP32 [-1, 4]),
// with its library and `extra` settings (indented four spaces, each line ending in \n).
inline std::string test_op_model(const std::string& name, const std::string& file,
                                 const std::string& extra = "") {
  return "  - name: " + name + "\n    path: " + (models_dir() / file).string() +
         "\n    libraries: [" + std::string(INFERVISOR_TEST_OPS_LIBRARY) + "]\n" + extra +
         "    inputs: [{name: x, dtype: FP32, shape: [-1, 4]}]\n"
         "    outputs: [{name: y, dtype: FP32, shape: [-1, 4]}]\n";
}

}  // namespace infervisor::testing
