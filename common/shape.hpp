// Tensor shapes and the overflow-checked arithmetic every length read from a peer goes through.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "common/dtype.hpp"

namespace infervisor {

// Frames and the protocol carry at most this many dimensions; TorchScript models rarely need more.
inline constexpr std::size_t kMaxDims = 8;

// Product of dims, or nullopt if a dim is negative or the product overflows 64 bits.
std::optional<std::uint64_t> checked_element_count(std::span<const std::int64_t> dims) noexcept;

// element_count(dims) * dtype_size(dtype), or nullopt on a negative dim or overflow.
std::optional<std::uint64_t> checked_byte_size(DType dtype,
                                               std::span<const std::int64_t> dims) noexcept;

// "[2, 256]" for logs and error messages.
std::string shape_to_string(std::span<const std::int64_t> dims);

// Rounds up to a multiple of `alignment` (a power of two); nullopt on overflow.
std::optional<std::uint64_t> checked_align_up(std::uint64_t value,
                                              std::uint64_t alignment) noexcept;

}  // namespace infervisor
