// The one switch over every DType that code handling tensor elements needs: visit_dtype(dtype, f)
// calls f(std::type_identity<T>{}), T being the C++ type of one element's bytes. Resolve the dtype
// once per tensor and loop over its elements inside f, with T fixed: the per-element code then has
// no switch and no indirect call (a JSON tensor can have millions of elements).
//
// BOOL, FP16 and BF16 have no C++ arithmetic type of their own; each gets a distinct struct that
// holds exactly its bytes, so an overload for one can never be taken for UINT8 or INT16.
// element_value() gives any element's arithmetic value.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "common/dtype.hpp"
#include "common/half.hpp"

namespace infervisor {

struct Bool {
  std::uint8_t byte;  // 0 or 1 in a valid tensor (common/bool_bytes.hpp checks bytes from a peer)
};
struct Float16 {
  std::uint16_t bits;  // IEEE binary16
};
struct BFloat16 {
  std::uint16_t bits;  // the upper half of an IEEE binary32
};

// Throws std::invalid_argument for a value outside the enum: DTypes read from a peer are checked
// where they are read (dtype_from_raw, dtype_from_kserve), so only a programming error gets here.
template <class F>
constexpr decltype(auto) visit_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kBool:
      return std::forward<F>(f)(std::type_identity<Bool>{});
    case DType::kUInt8:
      return std::forward<F>(f)(std::type_identity<std::uint8_t>{});
    case DType::kInt8:
      return std::forward<F>(f)(std::type_identity<std::int8_t>{});
    case DType::kInt16:
      return std::forward<F>(f)(std::type_identity<std::int16_t>{});
    case DType::kInt32:
      return std::forward<F>(f)(std::type_identity<std::int32_t>{});
    case DType::kInt64:
      return std::forward<F>(f)(std::type_identity<std::int64_t>{});
    case DType::kFloat16:
      return std::forward<F>(f)(std::type_identity<Float16>{});
    case DType::kBFloat16:
      return std::forward<F>(f)(std::type_identity<BFloat16>{});
    case DType::kFloat32:
      return std::forward<F>(f)(std::type_identity<float>{});
    case DType::kFloat64:
      return std::forward<F>(f)(std::type_identity<double>{});
  }
  throw std::invalid_argument("visit_dtype: not a DType value");
}

// Every element type is exactly its dtype's bytes (dtype_size stays the one table of sizes).
static_assert(std::ranges::all_of(kAllDTypes, [](DType dtype) {
  return visit_dtype(dtype, []<class T>(std::type_identity<T>) {
           return std::is_trivially_copyable_v<T> ? sizeof(T) : 0;
         }) == dtype_size(dtype);
}));

// One element at `at` (any alignment: tensor bytes in a body or a ring need not be aligned).
template <class T>
T load_element(const std::byte* at) noexcept {
  T element;
  std::memcpy(&element, at, sizeof(T));
  return element;
}

template <class T>
void store_element(std::byte* at, T element) noexcept {
  std::memcpy(at, &element, sizeof(T));
}

// An element's arithmetic value: bool for BOOL (any nonzero byte is true), float for FP16 and
// BF16 (exact: every value of either is a float), the element itself otherwise.
constexpr bool element_value(Bool element) noexcept {
  return element.byte != 0;
}
constexpr float element_value(Float16 element) noexcept {
  return half_to_float(element.bits);
}
constexpr float element_value(BFloat16 element) noexcept {
  return bfloat16_to_float(element.bits);
}
template <class T>
requires std::is_arithmetic_v<T>
constexpr T element_value(T element) noexcept {
  return element;
}

}  // namespace infervisor
