#include "common/dtype.hpp"

#include <array>

namespace infervisor {
namespace {

struct DTypeNames {
  DType dtype;
  std::string_view kserve;
  std::string_view lower;
};

constexpr std::array<DTypeNames, 10> kNames{{
    {DType::kBool, "BOOL", "bool"},
    {DType::kUInt8, "UINT8", "uint8"},
    {DType::kInt8, "INT8", "int8"},
    {DType::kInt16, "INT16", "int16"},
    {DType::kInt32, "INT32", "int32"},
    {DType::kInt64, "INT64", "int64"},
    {DType::kFloat16, "FP16", "float16"},
    {DType::kBFloat16, "BF16", "bfloat16"},
    {DType::kFloat32, "FP32", "float32"},
    {DType::kFloat64, "FP64", "float64"},
}};

const DTypeNames* find(DType dtype) noexcept {
  for (const auto& entry : kNames) {
    if (entry.dtype == dtype) return &entry;
  }
  return nullptr;
}

}  // namespace

std::optional<DType> dtype_from_raw(std::uint8_t raw) noexcept {
  for (const auto& entry : kNames) {
    if (static_cast<std::uint8_t>(entry.dtype) == raw) return entry.dtype;
  }
  return std::nullopt;
}

std::string_view kserve_name(DType dtype) noexcept {
  const auto* entry = find(dtype);
  return entry ? entry->kserve : std::string_view{"INVALID"};
}

std::optional<DType> dtype_from_kserve(std::string_view name) noexcept {
  for (const auto& entry : kNames) {
    if (entry.kserve == name) return entry.dtype;
  }
  return std::nullopt;
}

std::string_view dtype_name(DType dtype) noexcept {
  const auto* entry = find(dtype);
  return entry ? entry->lower : std::string_view{"invalid"};
}

std::optional<DType> dtype_from_name(std::string_view name) noexcept {
  for (const auto& entry : kNames) {
    if (entry.lower == name) return entry.dtype;
  }
  return dtype_from_kserve(name);
}

}  // namespace infervisor
