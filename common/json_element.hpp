// One tensor element <-> one JSON value, for the `data` arrays of KServe v2 JSON tensors. The
// daemon (reading requests, writing responses) and the client (writing requests, reading
// responses) both go through these functions, so both follow one set of rules.
//
// Reading takes a value that denotes exactly one value of the dtype and refuses one that would
// need a guess:
// - BOOL: true or false, or the numbers 0 and 1 (by the integer rule below, so 1.0 as well).
// - UINT8 ... INT64: a JSON integer in the dtype's range; or a number written with a fraction or
//   an exponent (3.0, 1e3) whose value is an integer in that range and below 2^50 (about 1.1e15)
//   in magnitude. Such a number arrives as the parser's double, which from 2^53 on cannot hold
//   every integer (9007199254740993.0 parses to 2^53) and which Boost.JSON 1.81 rounds only to
//   within an ulp or two. Below 2^50 an ulp is at most 1/8, so a double parsed off its integer
//   keeps a fraction and is refused, never taken for a neighbour; larger integers must be written
//   as plain JSON integers, which are exact. 2.5, "3", true and null are refused. (Triton takes
//   JSON integers only; KServe v2 asks for numbers. Taking 3.0 loses nothing and spares senders
//   whose numbers went through a double, as Python's json does with a list of floats.)
// - FP16, BF16, FP32, FP64: any JSON number, rounded to the dtype (FP16 and BF16 by way of a
//   float, as common/half.hpp converts); null is NaN, the writer's spelling of it. A number that
//   would round to infinity is refused, not made infinite: JSON has no infinity, and Boost.JSON
//   parses a literal beyond a double's range (1e400) as one. The parser's rounding to a double is
//   within an ulp or two, not always to nearest: an FP64 value can come through JSON that far
//   off (binary data is exact); every FP32, FP16 and BF16 value written here reads back exact.
// - Anything else (strings, objects, an array where an element belongs) is refused.
// Writing: BOOL as true/false, integers as integers, a float as the shortest number that reads
// back as the same value (-0 as -0.0, and one float with nine digits: see below); NaN and
// +-infinity, which JSON cannot spell, as null, and the writer says so, so that a caller able to
// refuse them (the client: binary data carries them) does.
//
// Everything per element is inline and templated on the element type of common/dtype_visit.hpp:
// resolve the dtype once per tensor with visit_dtype, then loop. Only error messages are built
// out of line, and only for the element that failed.
#pragma once

#include <fmt/format.h>

#include <boost/json/value.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

#include "common/dtype.hpp"
#include "common/dtype_visit.hpp"
#include "common/half.hpp"

namespace infervisor {

enum class JsonElementError : std::uint8_t {
  kNone,
  kWrongType,    // not a number (for BOOL: not true, false, 0 or 1)
  kNotIntegral,  // a fraction where an integer belongs
  kInexact,      // a double of 2^50 or more where an integer belongs: it may not be the one written
  kOutOfRange,   // outside an integer dtype's range, or rounds to infinity in a float dtype
};

// Stores the element `value` denotes at `at` (sizeof(T) bytes, any alignment), or says why it
// cannot and stores nothing.
template <class T>
JsonElementError read_json_element(const boost::json::value& value, std::byte* at) noexcept;

// Why `value` is not a `dtype` element, worded to follow "element 3 is ": for example
// `2.5, not an integer: INT32 data needs an integer in [-2147483648, 2147483647]`.
std::string json_element_error_text(DType dtype, const boost::json::value& value,
                                    JsonElementError error);

// A short rendering of a JSON value for error messages: at most about 40 bytes, cut on a UTF-8
// character boundary.
std::string json_value_excerpt(const boost::json::value& value);

// Appends `element` as JSON text. False when it was NaN or infinite and went out as null.
template <class T>
bool append_json_element(std::string& out, T element);

// The same element as a Boost.JSON value, for code that builds a document: a float becomes the
// double with exactly its value (spelled in full by the serializer; it reads back as the same
// float). Null for NaN and +-infinity, as in the text.
template <class T>
boost::json::value json_element_value(T element) noexcept;

// ---------------------------------------------------------------------------------------------

namespace json_element_detail {

// The integer rule of the header comment, for an integer dtype T.
template <class T>
JsonElementError read_integer(const boost::json::value& value, T& out) noexcept {
  switch (value.kind()) {
    case boost::json::kind::int64:
      if (!std::in_range<T>(value.get_int64())) return JsonElementError::kOutOfRange;
      out = static_cast<T>(value.get_int64());
      return JsonElementError::kNone;
    case boost::json::kind::uint64:
      if (!std::in_range<T>(value.get_uint64())) return JsonElementError::kOutOfRange;
      out = static_cast<T>(value.get_uint64());
      return JsonElementError::kNone;
    case boost::json::kind::double_: {
      // [begin, end) holds T's range; both are powers of two (or 0), exact as doubles even where
      // T's largest value is not (INT64).
      constexpr double kEnd =
          2.0 * static_cast<double>(std::uintmax_t{1} << (std::numeric_limits<T>::digits - 1));
      constexpr double kBegin = std::is_signed_v<T> ? -kEnd : 0.0;
      const double number = value.get_double();
      if (std::isnan(number)) return JsonElementError::kWrongType;
      if (!(number >= kBegin && number < kEnd)) return JsonElementError::kOutOfRange;
      if (std::fabs(number) >= 0x1p50) return JsonElementError::kInexact;
      if (number != std::trunc(number)) return JsonElementError::kNotIntegral;
      out = static_cast<T>(number);
      return JsonElementError::kNone;
    }
    default:
      return JsonElementError::kWrongType;
  }
}

inline JsonElementError read_bool(const boost::json::value& value, Bool& out) noexcept {
  if (value.is_bool()) {
    out.byte = value.get_bool() ? 1 : 0;
    return JsonElementError::kNone;
  }
  std::uint8_t number = 0;
  if (read_integer(value, number) != JsonElementError::kNone || number > 1) {
    return JsonElementError::kWrongType;
  }
  out.byte = number;
  return JsonElementError::kNone;
}

// A JSON number as a double, null as NaN.
inline JsonElementError read_double(const boost::json::value& value, double& out) noexcept {
  switch (value.kind()) {
    case boost::json::kind::int64:
      out = static_cast<double>(value.get_int64());
      return JsonElementError::kNone;
    case boost::json::kind::uint64:
      out = static_cast<double>(value.get_uint64());
      return JsonElementError::kNone;
    case boost::json::kind::double_:
      out = value.get_double();
      return std::isinf(out) ? JsonElementError::kOutOfRange : JsonElementError::kNone;
    case boost::json::kind::null:
      out = std::numeric_limits<double>::quiet_NaN();
      return JsonElementError::kNone;
    default:
      return JsonElementError::kWrongType;
  }
}

// Rounded to a float. Converting a double beyond float's range is undefined behaviour, hence the
// explicit bounds: from FLT_MAX + half an ulp on, rounding to nearest gives infinity; below that
// it gives FLT_MAX (which Boost.JSON 1.81, parsing to within an ulp, may deliver a hair above).
inline JsonElementError read_float(const boost::json::value& value, float& out) noexcept {
  constexpr double kRoundsToInfinity = 0x1.ffffffp127;
  constexpr float kFloatMax = std::numeric_limits<float>::max();
  double number = 0;
  if (const auto error = read_double(value, number); error != JsonElementError::kNone) {
    return error;
  }
  const double magnitude = std::fabs(number);
  if (magnitude >= kRoundsToInfinity) return JsonElementError::kOutOfRange;
  if (magnitude > kFloatMax) {
    out = number > 0 ? kFloatMax : -kFloatMax;
  } else {
    out = static_cast<float>(number);
  }
  return JsonElementError::kNone;
}

// FP16 and BF16: a float, rounded again; refused where that rounds to infinity (65520 for FP16).
template <class Half>
JsonElementError read_half(const boost::json::value& value, Half& out) noexcept {
  float number = 0;
  if (const auto error = read_float(value, number); error != JsonElementError::kNone) {
    return error;
  }
  constexpr bool kIsFloat16 = std::is_same_v<Half, Float16>;
  out.bits = kIsFloat16 ? float_to_half(number) : float_to_bfloat16(number);
  const std::uint16_t infinity = kIsFloat16 ? 0x7c00u : 0x7f80u;
  if ((out.bits & 0x7fffu) == infinity) return JsonElementError::kOutOfRange;
  return JsonElementError::kNone;
}

// A reader that parses a number to a double and then narrows it to float (Boost.JSON and we,
// Python with numpy) rounds twice. For one float magnitude alone, 0x1.5c87fap-84, the shortest
// form (7.038531e-26) parses to the double exactly halfway between it and the next float up, and
// the second rounding goes up; nine digits read back right. (Every finite float was tried, with
// std::from_chars and with Boost.JSON 1.81; FP16 and BF16 values, floats too, have no such case.)
template <class Value>
constexpr bool is_double_rounding_trap(Value value) noexcept {
  if constexpr (std::is_same_v<Value, float>) {
    return value == 0x1.5c87fap-84f || value == -0x1.5c87fap-84f;
  } else {
    return false;
  }
}

}  // namespace json_element_detail

template <class T>
JsonElementError read_json_element(const boost::json::value& value, std::byte* at) noexcept {
  namespace detail = json_element_detail;
  T element{};
  JsonElementError error = JsonElementError::kNone;
  if constexpr (std::is_same_v<T, Bool>) {
    error = detail::read_bool(value, element);
  } else if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>) {
    error = detail::read_half(value, element);
  } else if constexpr (std::is_same_v<T, float>) {
    error = detail::read_float(value, element);
  } else if constexpr (std::is_same_v<T, double>) {
    error = detail::read_double(value, element);
  } else {
    static_assert(std::is_integral_v<T>, "not an element type of common/dtype_visit.hpp");
    error = detail::read_integer(value, element);
  }
  if (error == JsonElementError::kNone) store_element(at, element);
  return error;
}

template <class T>
bool append_json_element(std::string& out, T element) {
  const auto value = element_value(element);
  using Value = std::remove_const_t<decltype(value)>;
  if constexpr (std::is_same_v<Value, bool>) {
    out += value ? "true" : "false";
  } else if constexpr (std::is_integral_v<Value>) {
    fmt::format_to(std::back_inserter(out), "{}", static_cast<std::int64_t>(value));
  } else {
    if (!std::isfinite(value)) {
      out += "null";
      return false;
    }
    if (value == 0 && std::signbit(value)) {
      out += "-0.0";  // a parser takes "-0" for the integer 0, losing the sign
    } else if (json_element_detail::is_double_rounding_trap(value)) {
      fmt::format_to(std::back_inserter(out), "{:.9g}", value);
    } else {
      fmt::format_to(std::back_inserter(out), "{}", value);  // the shortest form that reads back
    }
  }
  return true;
}

template <class T>
boost::json::value json_element_value(T element) noexcept {
  const auto value = element_value(element);
  using Value = std::remove_const_t<decltype(value)>;
  if constexpr (std::is_same_v<Value, bool>) {
    return boost::json::value(value);
  } else if constexpr (std::is_integral_v<Value>) {
    return boost::json::value(static_cast<std::int64_t>(value));
  } else {
    if (!std::isfinite(value)) return boost::json::value(nullptr);
    return boost::json::value(static_cast<double>(value));
  }
}

}  // namespace infervisor
