// Element types that cross process boundaries, with their sizes and the names each protocol uses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace infervisor {

// The numeric values are part of the shared-memory frame layout: never renumber.
enum class DType : std::uint8_t {
  kBool = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kInt16 = 4,
  kInt32 = 5,
  kInt64 = 6,
  kFloat16 = 7,
  kBFloat16 = 8,
  kFloat32 = 9,
  kFloat64 = 10,
};

inline constexpr DType kAllDTypes[] = {
    DType::kBool,  DType::kUInt8,   DType::kInt8,     DType::kInt16,   DType::kInt32,
    DType::kInt64, DType::kFloat16, DType::kBFloat16, DType::kFloat32, DType::kFloat64,
};

constexpr std::size_t dtype_size(DType dtype) noexcept {
  switch (dtype) {
    case DType::kBool:
    case DType::kUInt8:
    case DType::kInt8:
      return 1;
    case DType::kInt16:
    case DType::kFloat16:
    case DType::kBFloat16:
      return 2;
    case DType::kInt32:
    case DType::kFloat32:
      return 4;
    case DType::kInt64:
    case DType::kFloat64:
      return 8;
  }
  return 0;
}

// Floating-point data read while a client may rewrite it can only come out as other numbers;
// integers and booleans may steer indexing after a check (client regions are snapshot for them).
constexpr bool is_floating_point(DType dtype) noexcept {
  return dtype == DType::kFloat16 || dtype == DType::kBFloat16 || dtype == DType::kFloat32 ||
         dtype == DType::kFloat64;
}

// A raw byte read from shared memory is a DType only if this says so.
std::optional<DType> dtype_from_raw(std::uint8_t raw) noexcept;

// KServe v2 / Open Inference Protocol datatype names: BOOL, UINT8, ..., FP16, BF16, FP32, FP64.
std::string_view kserve_name(DType dtype) noexcept;
std::optional<DType> dtype_from_kserve(std::string_view name) noexcept;

// Lower-case names used in the config file and logs: bool, uint8, ..., float16, bfloat16, float32.
// dtype_from_name also accepts the KServe spelling.
std::string_view dtype_name(DType dtype) noexcept;
std::optional<DType> dtype_from_name(std::string_view name) noexcept;

}  // namespace infervisor
