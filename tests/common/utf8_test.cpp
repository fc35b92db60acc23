#include "common/utf8.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace infervisor {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(Utf8_test, ValidTextIsUnchanged) {
  for (const std::string& text : std::vector<std::string>{
           "", "plain ascii /v2/models/m", "caf\xC3\xA9", "\xE2\x82\xAC 100", "\xF0\x9F\x98\x80",
           "\xED\x9F\xBF", "\xEE\x80\x80", "\xF4\x8F\xBF\xBF", std::string("nul\0inside", 10)}) {
    EXPECT_EQ(to_valid_utf8(text), text);
  }
}

TEST(Utf8_test, EachMaximalIllFormedSubpartBecomesOneReplacementCharacter) {
  EXPECT_EQ(to_valid_utf8("m\xFFlp"), "m" + kFffd + "lp");
  EXPECT_EQ(to_valid_utf8("\x80\xBF"), kFffd + kFffd);              // stray continuation bytes
  EXPECT_EQ(to_valid_utf8("\xC0\xAF"), kFffd + kFffd);              // overlong '/'
  EXPECT_EQ(to_valid_utf8("\xE0\x80\xAF"), kFffd + kFffd + kFffd);  // overlong, 3 bytes
  EXPECT_EQ(to_valid_utf8("\xED\xA0\x80"), kFffd + kFffd + kFffd);  // a surrogate
  EXPECT_EQ(to_valid_utf8("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);  // > U+10FFFF
  EXPECT_EQ(to_valid_utf8("\xF5"), kFffd);
  // A truncated sequence is one subpart, and the byte that cut it short starts afresh.
  EXPECT_EQ(to_valid_utf8("\xE2\x82"), kFffd);
  EXPECT_EQ(to_valid_utf8("\xE2\x82x"), kFffd + "x");
  EXPECT_EQ(to_valid_utf8("\xF0\x9F\x98"), kFffd);
  EXPECT_EQ(to_valid_utf8("\xE2\xE2\x82\xAC"), kFffd + "\xE2\x82\xAC");
  // Cut in the middle of a character, as a byte-counted substr() does.
  EXPECT_EQ(to_valid_utf8(std::string("\xC3\xA9\xC3\xA9").substr(0, 3)), "\xC3\xA9" + kFffd);
}

}  // namespace
}  // namespace infervisor
