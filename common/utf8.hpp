// Making text that came from a client safe to put in a JSON string. Boost.JSON's serializer
// escapes quotes and control characters but copies every other byte as it is, so a request path
// or header value with invalid UTF-8 copied into an error message would make a reply that strict
// JSON parsers (Python's json, Boost.JSON itself) refuse.
#pragma once

#include <string>
#include <string_view>

namespace infervisor {

// `text` with every ill-formed sequence replaced by U+FFFD, one per maximal subpart (Unicode
// 15, 3.9 "U+FFFD Substitution of Maximal Subparts", as browsers and Python do): overlong forms,
// surrogates, code points above U+10FFFF, stray continuation bytes and truncated sequences are
// all ill-formed. Valid text comes back unchanged.
std::string to_valid_utf8(std::string_view text);

}  // namespace infervisor
