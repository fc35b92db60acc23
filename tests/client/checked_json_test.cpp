#include "client/checked_json.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "common/error.hpp"

namespace infervisor::client::checked_json {
namespace {

namespace json = boost::json;

TEST(client_checked_json_test, UnsignedValuesSpanSixtyFourBits) {
  EXPECT_EQ(unsigned_value(json::parse("0"), "f"), 0u);
  EXPECT_EQ(unsigned_value(json::parse("18446744073709551615"), "f"), UINT64_MAX);
  for (const char* bad : {"-1", "1.0", "18446744073709551616", "\"1\"", "true", "null", "[]"}) {
    try {
      unsigned_value(json::parse(bad), "a.b");
      ADD_FAILURE() << bad << " was accepted";
    } catch (const InfervisorError& error) {
      EXPECT_EQ(error.code(), ErrorCode::kCorrupt);
      EXPECT_STREQ(error.what(), "a.b: expected a non-negative integer") << bad;
    }
  }
}

TEST(client_checked_json_test, FieldsNameTheirPath) {
  const auto object = json::parse(R"({"s": "x", "n": 3, "o": {}})").as_object();
  EXPECT_EQ(string_field(object, "s", "root", true), "x");
  EXPECT_EQ(string_field(object, "absent", "root", false), "");
  EXPECT_EQ(unsigned_field(object, "n", "root"), 3u);
  const auto message = [](auto&& f) {
    try {
      f();
    } catch (const InfervisorError& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message([&] { string_field(object, "absent", "root", true); }), "root.absent: missing");
  EXPECT_EQ(message([&] { string_field(object, "n", "root", true); }), "root.n: expected a string");
  EXPECT_EQ(message([&] { unsigned_field(object, "s", "root"); }),
            "root.s: expected a non-negative integer");
  EXPECT_EQ(message([&] { as_array(object.at("o"), "root.o"); }), "root.o: expected a JSON array");
  EXPECT_EQ(message([&] { as_object(json::parse("1"), "x"); }), "x: expected a JSON object");
  EXPECT_NE(message([&] { parse_json("{", "thing"); }).find("thing is not valid JSON"),
            std::string::npos);
}

TEST(client_checked_json_test, PrintableEscapesControlsAndCutsLongText) {
  EXPECT_EQ(printable("a\x1b[2Jb\n"), "a\\x1b[2Jb\\x0a");
  EXPECT_EQ(printable("µs"), "µs");
  EXPECT_EQ(printable(std::string(600, 'x')), std::string(500, 'x') + "...");
}

}  // namespace
}  // namespace infervisor::client::checked_json
