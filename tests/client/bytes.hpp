// Typed values <-> the raw bytes tensors carry, for tests.
#pragma once

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

namespace infervisor::testing {

template <class T>
std::vector<std::byte> bytes_of(const std::vector<T>& values) {
  std::vector<std::byte> out(values.size() * sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

template <class T>
std::string raw_of(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

}  // namespace infervisor::testing
