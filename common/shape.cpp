#include "common/shape.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace infervisor {

std::optional<std::uint64_t> checked_element_count(std::span<const std::int64_t> dims) noexcept {
  std::uint64_t count = 1;
  for (const std::int64_t dim : dims) {
    if (dim < 0) return std::nullopt;
    if (__builtin_mul_overflow(count, static_cast<std::uint64_t>(dim), &count)) return std::nullopt;
  }
  return count;
}

std::optional<std::uint64_t> checked_byte_size(DType dtype,
                                               std::span<const std::int64_t> dims) noexcept {
  const auto count = checked_element_count(dims);
  if (!count) return std::nullopt;
  std::uint64_t bytes = 0;
  if (__builtin_mul_overflow(*count, dtype_size(dtype), &bytes)) return std::nullopt;
  return bytes;
}

std::string shape_to_string(std::span<const std::int64_t> dims) {
  return fmt::format("[{}]", fmt::join(dims, ", "));
}

std::optional<std::uint64_t> checked_align_up(std::uint64_t value,
                                              std::uint64_t alignment) noexcept {
  std::uint64_t bumped = 0;
  if (__builtin_add_overflow(value, alignment - 1, &bumped)) return std::nullopt;
  return bumped & ~(alignment - 1);
}

}  // namespace infervisor
