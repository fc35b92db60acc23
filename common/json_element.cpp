#include "common/json_element.hpp"

#include <boost/json/serialize.hpp>

namespace infervisor {

std::string json_value_excerpt(const boost::json::value& value) {
  constexpr std::size_t kMaxBytes = 40;
  if (value.is_double()) {
    const double number = value.get_double();
    // Boost.JSON's own spelling would be 2.5E0; and an infinite double can only have come from a
    // literal beyond a double's range.
    if (std::isinf(number))
      return number > 0 ? "a number above 1.8e308" : "a number below -1.8e308";
    return fmt::format("{}", number);
  }
  std::string text = boost::json::serialize(value);
  if (text.size() > kMaxBytes) {
    std::size_t cut = kMaxBytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0u) == 0x80u)
      --cut;  // not inside a UTF-8 character
    text.resize(cut);
    text += "...";
  }
  return text;
}

std::string json_element_error_text(DType dtype, const boost::json::value& value,
                                    JsonElementError error) {
  const auto name = kserve_name(dtype);
  return visit_dtype(dtype, [&]<class T>(std::type_identity<T>) -> std::string {
    if (error == JsonElementError::kNone) return {};
    const auto shown = json_value_excerpt(value);
    if constexpr (std::is_same_v<T, Bool>) {
      return fmt::format("{}, not a bool: BOOL data needs true, false, 0 or 1", shown);
    } else if constexpr (std::is_integral_v<T>) {
      const auto wanted = fmt::format("{} data needs an integer in [{}, {}]", name,
                                      std::int64_t{std::numeric_limits<T>::min()},
                                      std::int64_t{std::numeric_limits<T>::max()});
      switch (error) {
        case JsonElementError::kNotIntegral:
          return fmt::format("{}, not an integer: {}", shown, wanted);
        case JsonElementError::kOutOfRange:
          return fmt::format("{}, out of range: {}", shown, wanted);
        case JsonElementError::kInexact:
          return fmt::format(
              "{}, a number with a fraction or exponent of 2^50 or more, which a double may not "
              "hold exactly: write {} values this large as plain integers",
              shown, name);
        default:
          return fmt::format("{}, not a number: {}", shown, wanted);
      }
    } else {
      if (error != JsonElementError::kOutOfRange) {
        return fmt::format("{}, not a number: {} data needs a number (or null for NaN)", shown,
                           name);
      }
      // The largest finite values: FP16's 65504, BF16's 0x7f7f.
      double largest = 0;
      if constexpr (std::is_same_v<T, Float16>) {
        largest = element_value(Float16{0x7bff});
      } else if constexpr (std::is_same_v<T, BFloat16>) {
        largest = element_value(BFloat16{0x7f7f});
      } else {
        largest = std::numeric_limits<T>::max();
      }
      return fmt::format("outside the finite range of {} (+-{:g})", name, largest);
    }
  });
}

}  // namespace infervisor
