#include "client/tensor_summary.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <type_traits>

#include "common/dtype_visit.hpp"
#include "common/shape.hpp"

namespace infervisor::client {

std::string summarize_tensor(const Tensor& tensor, std::size_t max_values) {
  std::string line = fmt::format("{} {} {}", tensor.name, kserve_name(tensor.dtype),
                                 shape_to_string(tensor.shape));
  const std::size_t size = dtype_size(tensor.dtype);
  const std::size_t count = size == 0 ? 0 : tensor.data.size() / size;
  if (count == 0) return line + " (empty)";

  std::string values;
  double min = std::numeric_limits<double>::infinity();
  double max = -min;
  double sum = 0;
  std::size_t nans = 0;
  std::string extremes;  // " min A max B"
  visit_dtype(tensor.dtype, [&]<class T>(std::type_identity<T>) {
    using Value = decltype(element_value(T{}));
    for (std::size_t i = 0; i < count; ++i) {
      const Value value = element_value(load_element<T>(tensor.data.data() + i * size));
      if (i < max_values) {
        if (i > 0) values += ", ";
        // int8/uint8 would print as characters; widen every integer.
        if constexpr (std::is_integral_v<Value> && !std::is_same_v<Value, bool>) {
          values += fmt::format("{}", static_cast<std::int64_t>(value));
        } else {
          values += fmt::format("{}", value);
        }
      }
      const auto number = static_cast<double>(value);
      if (std::isnan(number)) {
        ++nans;
        continue;
      }
      min = std::min(min, number);
      max = std::max(max, number);
      sum += number;
    }
    // min and max are element values: print them as the element type does (a float's shortest
    // form, not its double expansion). The mean is a statistic: 7 significant digits.
    const auto as_element = [](double value) {
      if constexpr (std::is_floating_point_v<Value>) {
        return fmt::format("{}", static_cast<Value>(value));
      } else {
        return fmt::format("{}", static_cast<std::int64_t>(value));
      }
    };
    if (nans < count) extremes = fmt::format(" min {} max {}", as_element(min), as_element(max));
  });
  if (count > max_values) values += ", ...";
  line += fmt::format(" [{}]", values);
  if (nans < count) {
    line += fmt::format("{} mean {:.7g}", extremes, sum / static_cast<double>(count - nans));
  }
  if (nans > 0) line += fmt::format(" ({} NaN)", nans);
  return line;
}

}  // namespace infervisor::client
