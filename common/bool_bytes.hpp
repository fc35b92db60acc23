// BOOL tensor bytes must be 0 or 1: any other byte is not a valid bool once libtorch (or a
// consumer) reads it as one. One scan for every place that takes BOOL bytes from a peer.
#pragma once

#include <cstddef>
#include <optional>
#include <span>

namespace infervisor {

// The index of the first byte that is neither 0 nor 1, if any.
inline std::optional<std::size_t> first_invalid_bool(std::span<const std::byte> data) noexcept {
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (std::to_integer<unsigned>(data[i]) > 1) return i;
  }
  return std::nullopt;
}

}  // namespace infervisor
