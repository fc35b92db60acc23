#include "common/utf8.hpp"

namespace infervisor {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

struct Sequence {
  std::size_t length;  // bytes it takes: the whole sequence, or its maximal ill-formed subpart
  bool valid;
};

// The sequence that starts at text[at], by the table of well-formed byte sequences (Unicode 15,
// table 3-7). The second byte's range depends on the lead byte; that is what refuses overlong
// forms (E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and code points above U+10FFFF (F4 90..).
Sequence next_sequence(std::string_view text, std::size_t at) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[at + i]); };
  const unsigned lead = byte(0);
  if (lead < 0x80) return {1, true};
  std::size_t continuation = 0;
  unsigned low = 0x80;
  unsigned high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    continuation = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    continuation = 2;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    continuation = 3;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return {1, false};  // 80..C1 and F5..FF never start a sequence
  }
  for (std::size_t i = 1; i <= continuation; ++i) {
    if (at + i >= text.size() || byte(i) < low || byte(i) > high) return {i, false};
    low = 0x80;
    high = 0xBF;
  }
  return {continuation + 1, true};
}

}  // namespace

std::string to_valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t at = 0;
  while (at < text.size()) {
    const auto sequence = next_sequence(text, at);
    if (sequence.valid)
      out.append(text.substr(at, sequence.length));
    else
      out.append(kReplacement);
    at += sequence.length;
  }
  return out;
}

}  // namespace infervisor
