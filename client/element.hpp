// Reading one element of a tensor's bytes as a C++ value, for code that must look at values
// (JSON encoding, summaries). Tensors stay bytes everywhere else.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "common/dtype.hpp"
#include "common/half.hpp"

namespace infervisor::client {

// Calls `visit` with element `index` of `data` as bool (BOOL, any nonzero byte is true), the
// fixed-width integer type, float (FP16, BF16 and FP32; 16-bit types converted exactly) or double
// (FP64). The caller guarantees (index + 1) * dtype_size(dtype) <= data.size().
template <class Visitor>
decltype(auto) visit_element(DType dtype, std::span<const std::byte> data, std::size_t index,
                             Visitor&& visit) {
  const std::byte* at = data.data() + index * dtype_size(dtype);
  const auto load = [at]<class T>(T value) {
    std::memcpy(&value, at, sizeof(T));
    return value;
  };
  switch (dtype) {
    case DType::kBool:
      return visit(load(std::uint8_t{}) != 0);
    case DType::kUInt8:
      return visit(load(std::uint8_t{}));
    case DType::kInt8:
      return visit(load(std::int8_t{}));
    case DType::kInt16:
      return visit(load(std::int16_t{}));
    case DType::kInt32:
      return visit(load(std::int32_t{}));
    case DType::kInt64:
      return visit(load(std::int64_t{}));
    case DType::kFloat16:
      return visit(half_to_float(load(std::uint16_t{})));
    case DType::kBFloat16:
      return visit(bfloat16_to_float(load(std::uint16_t{})));
    case DType::kFloat32:
      return visit(load(float{}));
    case DType::kFloat64:
      break;
  }
  return visit(load(double{}));
}

}  // namespace infervisor::client
