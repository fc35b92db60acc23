#include "client/json_tensor.hpp"

#include <fmt/format.h>

#include <boost/json/serialize.hpp>
#include <cmath>
#include <limits>
#include <optional>
#include <type_traits>

#include "client/element.hpp"
#include "common/error.hpp"
#include "common/half.hpp"
#include "common/shape.hpp"

namespace infervisor::client {
namespace json = boost::json;
namespace {

// At most one array level per dimension, plus the flat form's single level.
constexpr std::size_t kMaxNesting = kMaxDims;

[[noreturn]] void corrupt(std::string_view what, std::string message) {
  throw InfervisorError(ErrorCode::kCorrupt, fmt::format("{}: {}", what, message));
}

// A short rendering of a JSON value for error messages.
std::string shown(const json::value& value) {
  std::string text = json::serialize(value);
  if (text.size() > 40) text = text.substr(0, 40) + "...";
  return text;
}

// Collects the leaves of `data` in row-major order, refusing more than `limit` of them (so a
// hostile array cannot make us collect more than the shape allows).
void flatten(const json::value& data, std::size_t depth, std::uint64_t limit,
             std::vector<const json::value*>& leaves, std::string_view what) {
  if (!data.is_array()) {
    if (depth == 0) corrupt(what, fmt::format("'data' is {}, expected an array", shown(data)));
    leaves.push_back(&data);
    if (leaves.size() > limit) corrupt(what, fmt::format("'data' has more than {} values", limit));
    return;
  }
  if (depth >= kMaxNesting) corrupt(what, "'data' is nested deeper than the shape allows");
  for (const auto& item : data.get_array())
    flatten(item, depth + 1, limit, leaves, what);
}

// An integral JSON number as int64, whichever way the parser stored it.
std::optional<std::int64_t> as_integer(const json::value& value) {
  if (value.is_int64()) return value.get_int64();
  if (value.is_uint64()) {
    const auto u = value.get_uint64();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return {};
    return static_cast<std::int64_t>(u);
  }
  if (value.is_double()) {
    const double d = value.get_double();
    // [-2^63, 2^63) are exactly the doubles that convert to int64 without overflow.
    if (d != std::trunc(d) || d < -0x1p63 || d >= 0x1p63) return {};
    return static_cast<std::int64_t>(d);
  }
  return {};
}

std::optional<double> as_number(const json::value& value) {
  if (value.is_int64()) return static_cast<double>(value.get_int64());
  if (value.is_uint64()) return static_cast<double>(value.get_uint64());
  if (value.is_double()) return value.get_double();
  return {};
}

template <class T>
void store(std::byte* at, T value) {
  std::memcpy(at, &value, sizeof(T));
}

template <class T>
bool store_integer(std::byte* at, const json::value& value) {
  const auto integer = as_integer(value);
  if (!integer || *integer < std::numeric_limits<T>::min() ||
      *integer > std::numeric_limits<T>::max()) {
    return false;
  }
  store(at, static_cast<T>(*integer));
  return true;
}

// A finite JSON number that rounds to a finite float. Boost.JSON 1.81 parses doubles to within
// an ulp, not always exactly, so FLT_MAX itself may arrive a hair above FLT_MAX: anything below
// the point where rounding would give infinity (2^128 - 2^104) counts as FLT_MAX. Converting a
// double beyond the float range is undefined behaviour, hence the explicit clamp.
std::optional<float> as_float(const json::value& value) {
  constexpr double kRoundsToInfinity = 0x1.ffffffp127;
  constexpr double kFloatMax = std::numeric_limits<float>::max();
  const auto number = as_number(value);
  if (!number || !std::isfinite(*number) || std::fabs(*number) >= kRoundsToInfinity) return {};
  if (std::fabs(*number) > kFloatMax)
    return std::copysign(std::numeric_limits<float>::max(), *number);
  return static_cast<float>(*number);
}

// JSON cannot spell NaN; servers (infervisord among them) send null for it, so a null float
// element reads as NaN. Nothing else is lenient.
bool store_element(DType dtype, std::byte* at, const json::value& value) {
  switch (dtype) {
    case DType::kBool: {
      const auto integer =
          value.is_bool() ? std::optional<std::int64_t>(value.get_bool()) : as_integer(value);
      if (!integer || (*integer != 0 && *integer != 1)) return false;
      store(at, static_cast<std::uint8_t>(*integer));
      return true;
    }
    case DType::kUInt8:
      return store_integer<std::uint8_t>(at, value);
    case DType::kInt8:
      return store_integer<std::int8_t>(at, value);
    case DType::kInt16:
      return store_integer<std::int16_t>(at, value);
    case DType::kInt32:
      return store_integer<std::int32_t>(at, value);
    case DType::kInt64:
      return store_integer<std::int64_t>(at, value);
    case DType::kFloat16:
    case DType::kBFloat16:
    case DType::kFloat32: {
      const auto number =
          value.is_null() ? std::numeric_limits<float>::quiet_NaN() : as_float(value);
      if (!number) return false;
      if (dtype == DType::kFloat16) {
        store(at, float_to_half(*number));
      } else if (dtype == DType::kBFloat16) {
        store(at, float_to_bfloat16(*number));
      } else {
        store(at, *number);
      }
      return true;
    }
    case DType::kFloat64: {
      const auto number =
          value.is_null() ? std::numeric_limits<double>::quiet_NaN() : as_number(value);
      if (!number || std::isinf(*number)) return false;
      store(at, *number);
      return true;
    }
  }
  return false;
}

}  // namespace

json::array tensor_data_to_json(DType dtype, std::span<const std::byte> data,
                                std::string_view what) {
  const std::size_t size = dtype_size(dtype);
  const std::size_t count = size == 0 ? 0 : data.size() / size;
  json::array out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (dtype == DType::kBool && std::to_integer<unsigned>(data[i]) > 1) {
      throw InfervisorError(ErrorCode::kInvalidArgument,
                            fmt::format("{}: BOOL element {} is {}, expected 0 or 1", what, i,
                                        std::to_integer<unsigned>(data[i])));
    }
    visit_element(dtype, data, i, [&]<class T>(T value) {
      if constexpr (std::is_same_v<T, bool>) {
        out.emplace_back(value);
      } else if constexpr (std::is_integral_v<T>) {
        out.emplace_back(static_cast<std::int64_t>(value));
      } else {
        if (!std::isfinite(value)) {
          throw InfervisorError(
              ErrorCode::kInvalidArgument,
              fmt::format("{}: element {} is {}, which JSON cannot carry; send it in binary mode",
                          what, i, value));
        }
        out.emplace_back(static_cast<double>(value));
      }
    });
  }
  return out;
}

std::vector<std::byte> tensor_data_from_json(DType dtype, const json::value& data,
                                             std::uint64_t element_count, std::string_view what) {
  std::vector<const json::value*> leaves;
  flatten(data, 0, element_count, leaves, what);
  if (leaves.size() != element_count) {
    corrupt(what,
            fmt::format("'data' has {} values, the shape needs {}", leaves.size(), element_count));
  }
  // The leaves exist, so this many bytes are bounded by the response we already hold.
  std::vector<std::byte> out(leaves.size() * dtype_size(dtype));
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    if (!store_element(dtype, out.data() + i * dtype_size(dtype), *leaves[i])) {
      corrupt(what, fmt::format("'data' element {} is {}, not a {} value", i, shown(*leaves[i]),
                                kserve_name(dtype)));
    }
  }
  return out;
}

}  // namespace infervisor::client
