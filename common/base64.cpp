#include "common/base64.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

namespace infervisor {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::int8_t, 256> decoding_table() {
  std::array<std::int8_t, 256> table{};
  for (auto& value : table)
    value = -1;
  for (std::size_t i = 0; i < kAlphabet.size(); ++i)
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  return table;
}

constexpr auto kDecoding = decoding_table();

}  // namespace

std::optional<std::string> decode_base64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t at = 0; at < text.size(); at += 4) {
    const bool last = at + 4 == text.size();
    const std::size_t digits = last ? 4 - padding : 4;
    std::uint32_t group = 0;
    for (std::size_t i = 0; i < 4; ++i) {
      std::int8_t value = 0;
      if (i < digits) {
        value = kDecoding[static_cast<unsigned char>(text[at + i])];
        if (value < 0) return std::nullopt;
      }
      group = (group << 6) | static_cast<std::uint32_t>(value);
    }
    // Bits below the last byte a padded group carries must be zero, or two texts decode alike.
    if ((padding == 1 && last && (group & 0xff) != 0) ||
        (padding == 2 && last && (group & 0xffff) != 0)) {
      return std::nullopt;
    }
    const std::size_t bytes = digits - 1;
    for (std::size_t i = 0; i < bytes; ++i)
      out.push_back(static_cast<char>((group >> (16 - 8 * i)) & 0xff));
  }
  return out;
}

std::string encode_base64(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t at = 0; at < bytes.size(); at += 3) {
    const std::size_t count = std::min<std::size_t>(3, bytes.size() - at);
    std::uint32_t group = 0;
    for (std::size_t i = 0; i < 3; ++i) {
      const auto byte = i < count ? static_cast<unsigned char>(bytes[at + i]) : 0u;
      group = (group << 8) | byte;
    }
    for (std::size_t i = 0; i < 4; ++i)
      out.push_back(i <= count ? kAlphabet[(group >> (18 - 6 * i)) & 0x3f] : '=');
  }
  return out;
}

}  // namespace infervisor
